package dev.lanes.kernels;

import dev.lanes.kernels.internal.Checks;
import java.io.IOException;
import java.io.Reader;
import java.lang.System.Logger.Level;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;

/**
 * The one table of GEMM and attention tuning: register-tile shape, cache blocks and packing, and the
 * attention block sizes, chosen per machine
 * (after BLIS's per-microarchitecture context files and OpenBLAS's named cores). The driver loops in
 * {@code SimdGemm} never change; a new CPU is a new row of {@link #defaults}, not new loops.
 *
 * <table>
 * <caption>Fields</caption>
 * <tr><td>tile</td><td>MR rows x NR = V vectors of C in registers ({@link Tile}), for GEMM and the attention products</td></tr>
 * <tr><td>kc</td><td>depth of a packed B block and of each micro-kernel call</td></tr>
 * <tr><td>mc</td><td>rows of A per block (a multiple of MR), read repeatedly from L2</td></tr>
 * <tr><td>nc</td><td>columns of the packed KC x NC block of B (a multiple of NR), about four L2s of it</td></tr>
 * <tr><td>pack</td><td>when A is packed, and when an untransposed B may be read in place ({@link Pack})</td></tr>
 * <tr><td>directBMaxM</td><td>up to this many rows of C an untransposed B is read in place (0: never)</td></tr>
 * <tr><td>attnQ</td><td>attention forward: query columns (query heads x positions) per block, a multiple of 16</td></tr>
 * <tr><td>attnKeys</td><td>attention forward and KV cache: keys per tile, a multiple of 16</td></tr>
 * <tr><td>attnBwdQ</td><td>attention backward: query rows per block, a multiple of 16</td></tr>
 * <tr><td>attnBwdKeys</td><td>attention backward: keys per tile, a multiple of 16</td></tr>
 * </table>
 *
 * <p>The attention tiles run on the same register-tile family as GEMM ({@code SimdTiles}), in the same
 * shape ({@code tile}: the shape never changes bits); their block sizes are the four {@code attn} fields. The query block sizes never change bits (each query column is
 * computed alone), nor does the backward's key tile for the gradients of one call beyond the order of
 * its sums; the forward key tile sets where the online softmax rescales, so it may change the last bits
 * of the forward, and a KV cache keeps the key tile in force when it was made.
 *
 * <p>No prefetch distance: the Vector API has no prefetch instruction. (Reading the next tile's lines
 * ahead with plain loads was tried in the attention decoding loop: 7% faster for MHA, 10% slower for GQA,
 * not kept.)
 *
 * <p>Which tuning is in force is decided once, at first use, and logged once: the system property
 * {@code lanes.tuning} may be {@code none} (the defaults for this CPU), a path to a tuning file, or an
 * inline list such as {@code tile=12x2,kc=128,pack=always} applied over the defaults. Without it, the
 * file the autotuner ({@code dev.lanes.bench.Autotune}) wrote for this CPU and JDK under
 * {@code ~/.config/lanes/} is used when present. Results are the same bits for any thread count under
 * one tuning; the tile shape and packing never change bits, but a different {@code kc} splits the sum
 * over k at other places and may change the last bits.
 */
public final class Tuning {
    /** Register tiles, R rows by V vectors; the ordinal is the micro-kernel's number in SimdTiles. */
    public enum Tile {
        T6x4(6, 4), T8x3(8, 3), T12x2(12, 2), T14x2(14, 2), T6x2(6, 2), T4x3(4, 3);

        public final int rows, vectors;

        Tile(int rows, int vectors) {
            this.rows = rows;
            this.vectors = vectors;
        }

        /** Vector registers the micro-kernel's loop keeps live: accumulators, B vectors, one broadcast. */
        public int registers() {
            return rows * vectors + vectors + 1;
        }

        public String label() {
            return rows + "x" + vectors;
        }

        static Tile parse(String s) {
            for (Tile t : values()) {
                if (t.label().equals(s.trim()) || t.name().equalsIgnoreCase(s.trim())) {
                    return t;
                }
            }
            throw new IllegalArgumentException("tile=" + s + ": not one of 6x4, 8x3, 12x2, 14x2, 6x2, 4x3");
        }
    }

    /**
     * ALIASED packs A, and reads no B in place, when its row stride is a multiple of 4 KiB (1024 floats):
     * rows that far apart fall in the same L1 sets and alias the store buffer's 4 KiB check.
     * TRANSPOSED packs a transposed A at any stride and reads an untransposed A in place. ALWAYS packs A
     * always. B is packed at an aliased stride under these three; NEVER reads A in place always and B
     * per directBMaxM at any stride.
     */
    public enum Pack { ALIASED, TRANSPOSED, ALWAYS, NEVER }

    /** What /proc/cpuinfo says about this CPU, for the table and for the tuning file's key. */
    public record Cpu(String vendor, int family, int model, String modelName, Set<String> flags, long l2Bytes) {
        public boolean has(String flag) {
            return flags.contains(flag);
        }

        /** e.g. "AuthenticAMD family 25 model 17 (AMD EPYC)". */
        public String describe() {
            return vendor + " family " + family + " model " + model + " (" + modelName + ")";
        }
    }

    private final String source;
    private final String core;
    private final Tile tile;
    private final int lanes, kc, mc, nc, directBMaxM;
    private final Pack pack;
    private final int attnQ, attnKeys, attnBwdQ, attnBwdKeys;

    private Tuning(String source, String core, Tile tile, int lanes, int kc, int mc, int nc, Pack pack,
                   int directBMaxM, int attnQ, int attnKeys, int attnBwdQ, int attnBwdKeys) {
        if (lanes < 1) {
            throw new IllegalArgumentException("lanes=" + lanes + " < 1");
        }
        if (kc < 1 || kc > 1 << 14) {
            throw new IllegalArgumentException("kc=" + kc + " outside [1, 16384]");
        }
        if (mc < 1 || mc > 1 << 14) {
            throw new IllegalArgumentException("mc=" + mc + " outside [1, 16384]");
        }
        if (nc < 1 || (long) nc * kc > 1 << 24) {
            throw new IllegalArgumentException("nc=" + nc + " < 1 or kc*nc=" + (long) nc * kc + " > 2^24");
        }
        if (directBMaxM < 0) {
            throw new IllegalArgumentException("directBMaxM=" + directBMaxM + " < 0");
        }
        attentionBlock("attnQ", attnQ);
        attentionBlock("attnKeys", attnKeys);
        attentionBlock("attnBwdQ", attnBwdQ);
        attentionBlock("attnBwdKeys", attnBwdKeys);
        this.attnQ = attnQ;
        this.attnKeys = attnKeys;
        this.attnBwdQ = attnBwdQ;
        this.attnBwdKeys = attnBwdKeys;
        this.source = source;
        this.core = core;
        this.tile = tile;
        this.lanes = lanes;
        this.kc = kc;
        // whole tiles per block
        int nr = tile.vectors * lanes;
        this.mc = (mc + tile.rows - 1) / tile.rows * tile.rows;
        this.nc = (nc + nr - 1) / nr * nr;
        this.pack = pack;
        this.directBMaxM = directBMaxM;
    }

    /** Attention block sizes: a multiple of 16 (the tiles' column alignment) in [16, 1024]. */
    private static void attentionBlock(String name, int value) {
        if (value < 16 || value > 1024 || value % 16 != 0) {
            throw new IllegalArgumentException(name + "=" + value + ": not a multiple of 16 in [16, 1024]");
        }
    }

    public Tile tile() { return tile; }
    public int mr() { return tile.rows; }
    /** NR in floats: the tile's vectors times the lanes of the species. */
    public int nr() { return tile.vectors * lanes; }
    public int lanes() { return lanes; }
    public int kc() { return kc; }
    public int mc() { return mc; }
    public int nc() { return nc; }
    public Pack pack() { return pack; }
    public int directBMaxM() { return directBMaxM; }
    /** Attention forward: query columns (query heads x positions) per block. */
    public int attnQ() { return attnQ; }
    /** Attention forward and KV cache: keys per tile. */
    public int attnKeys() { return attnKeys; }
    /** Attention backward: query rows (query heads x positions) per block. */
    public int attnBwdQ() { return attnBwdQ; }
    /** Attention backward: keys per tile. */
    public int attnBwdKeys() { return attnBwdKeys; }
    /** Where this tuning came from: "defaults", a file, or the system property. */
    public String source() { return source; }
    /** The row of the defaults table this machine matched, e.g. "amd-zen4". */
    public String core() { return core; }

    /** Whether A, stored with row stride {@code ld} and transposed or not, is packed under this tuning. */
    public boolean packsA(int ld, boolean transposed) {
        return switch (pack) {
            case ALWAYS -> true;
            case NEVER -> false;
            case ALIASED -> aliased(ld);
            case TRANSPOSED -> transposed;
        };
    }

    /** Whether an untransposed B at this row stride may be read in place for a block of {@code rows} rows. */
    public boolean readsBInPlace(int rows, int ldb) {
        return rows <= directBMaxM && !(pack != Pack.NEVER && aliased(ldb));
    }

    /** A row stride of a multiple of 4 KiB: every row falls in the same L1 sets. */
    static boolean aliased(int ld) {
        return ld % 1024 == 0;
    }

    /** The inline form, e.g. "tile=6x4,kc=1024,mc=96,nc=1024,pack=aliased,directBMaxM=256". */
    public String spec() {
        return "tile=" + tile.label() + ",kc=" + kc + ",mc=" + mc + ",nc=" + nc + ",pack="
                + pack.name().toLowerCase(Locale.ROOT) + ",directBMaxM=" + directBMaxM + ",attnQ=" + attnQ
                + ",attnKeys=" + attnKeys + ",attnBwdQ=" + attnBwdQ + ",attnBwdKeys=" + attnBwdKeys;
    }

    /** One line for logs and reports: core, source, shape and blocks. */
    public String describe() {
        return core + " " + source + ": " + tile.label() + "L tile (" + mr() + " x " + nr() + " floats), KC=" + kc
                + " MC=" + mc + " NC=" + nc + ", pack " + pack.name().toLowerCase(Locale.ROOT)
                + ", B in place up to " + directBMaxM + " rows; attention blocks " + attnQ + " x " + attnKeys
                + " forward, " + attnBwdQ + " x " + attnBwdKeys + " backward (queries x keys)";
    }

    @Override
    public String toString() {
        return describe();
    }

    /** This tuning with the fields named in an inline spec replaced (same syntax as {@link #spec}). */
    public Tuning with(String spec, String newSource) {
        Tile t = tile;
        int k = kc, m = mc, n = -1, d = directBMaxM;
        int aq = attnQ, ak = attnKeys, bq = attnBwdQ, bk = attnBwdKeys;
        Pack p = pack;
        for (String part : spec.split(",")) {
            if (part.isBlank()) {
                continue;
            }
            int eq = part.indexOf('=');
            if (eq < 0) {
                throw new IllegalArgumentException("lanes.tuning: '" + part + "' is not key=value");
            }
            String key = part.substring(0, eq).trim(), value = part.substring(eq + 1).trim();
            switch (key) {
                case "tile" -> t = Tile.parse(value);
                case "kc" -> k = Integer.parseInt(value);
                case "mc" -> m = Integer.parseInt(value);
                case "nc" -> n = Integer.parseInt(value);
                case "pack" -> p = Pack.valueOf(value.toUpperCase(Locale.ROOT));
                case "directBMaxM" -> d = Integer.parseInt(value);
                case "attnQ" -> aq = Integer.parseInt(value);
                case "attnKeys" -> ak = Integer.parseInt(value);
                case "attnBwdQ" -> bq = Integer.parseInt(value);
                case "attnBwdKeys" -> bk = Integer.parseInt(value);
                default -> throw new IllegalArgumentException("lanes.tuning: unknown key '" + key
                        + "' (tile, kc, mc, nc, pack, directBMaxM, attnQ, attnKeys, attnBwdQ, attnBwdKeys)");
            }
        }
        // NC follows the L2 and a new KC or tile unless given
        int ncols = n >= 0 ? n : k == kc && t == tile ? nc : blockColumns(CPU.l2Bytes(), k, t.vectors * lanes);
        return new Tuning(newSource, core, t, lanes, k, m, ncols, p, d, aq, ak, bq, bk);
    }

    // ------------------------------------------------------------------------------------------------
    // The defaults table

    /** Intel cores with two 512-bit FMA units (Skylake-SP Gold/Platinum and later server cores). */
    private static final Set<Integer> INTEL_AVX512_SERVER = Set.of(85, 106, 108, 143, 173, 174, 207);

    /**
     * The default tuning of a CPU at a vector width ({@code lanes} floats; 0 when the SIMD kernels are
     * off). One row per core we can name; the figures behind each are in bench/RESULTS.md.
     */
    public static Tuning defaults(Cpu cpu, int lanes, String arch) {
        int l = Math.max(lanes, 1);
        String core;
        Tile tile;
        // Pack A at aliased strides unless measured otherwise: the rows of a tile all fall in one L1 set
        Pack pack = Pack.ALIASED;
        if (l >= 16) {
            if (cpu.vendor().equals("GenuineIntel") && cpu.family() == 6 && INTEL_AVX512_SERVER.contains(cpu.model())) {
                // BLIS's skx shape (32 x 12 column-major = 12 rows x 2 vectors here): 12 broadcasts per 24
                // fmas over a B micro-panel of half the width of 6x4's (not measured here: no such machine yet)
                core = "intel-avx512-2fma";
                tile = Tile.T12x2;
            } else if (cpu.vendor().equals("AuthenticAMD") && cpu.family() >= 25) {
                // measured on Zen 4 (one 512-bit fma per cycle): 6x4 at 91-94% of the FMA peak NN, 86-92%
                // with a transposed operand (bench/RESULTS.md, issue 14)
                core = cpu.family() == 25 ? "amd-zen4" : "amd-zen5";
                tile = Tile.T6x4;
                // at KC 1024, A read in place ran 1.07-1.08x packing it at N = 1024 and 2048 (its 6 rows
                // fit the 8-way L1 set), transposed 1.06-1.09x at 1024 and 2048 and 1.10x at N = 1000; B
                // in place at an aliased stride: 1.04-1.11x packing it at 96..256 rows of 1024, 0.94x at
                // 192 rows of 2048
                pack = Pack.NEVER;
            } else {
                core = "avx512";
                tile = Tile.T6x4;
            }
        } else if (l == 8) {
            // 256-bit: AVX2 has 16 vector registers, so 12 accumulators + one B row + 1 broadcast; 6x4
            // (29) spills. Of the two that fit, 4x3 (16 registers) ran 1.09-1.16x 6x2 (15) with
            // -XX:UseAVX=2 on Zen 4 at N = 512..2048 (bench/RESULTS.md, issue 14)
            core = "avx2";
            tile = Tile.T4x3;
            // measured on Zen 4 under -XX:UseAVX=2: an untransposed A in place ran 1.05-1.10x packing it,
            // a transposed A packed 1.10-1.20x reading it in place (1.25x at the aliased N = 1024)
            pack = Pack.TRANSPOSED;
        } else if (arch.equals("aarch64")) {
            // NEON: 32 registers of 4 floats; BLIS's armv8a 8 x 12
            core = "neon";
            tile = Tile.T8x3;
        } else {
            core = "generic-" + l * 32 + "bit";
            tile = Tile.T6x2;
        }
        // KC 1024: every k block after the first reads and writes the C block again, so a deep KC saves
        // passes over C (at N = 2000, KC 256 made 8 of them, ~7% of the time at the stream rate). The
        // B micro-panel (KC x NR) then streams from the L2, which the tile measured no slower than
        // reading it from L1. Measured on Zen 4 with the stepping tile loop (one thread, in-JVM
        // alternation): KC 1024 / NC 1024 ran 1.03-1.10x KC 512 / NC 1024 and 1.04-1.24x KC 256 / NC 1024
        // over N = 512..2048, NN, NT and TN; 1.06-1.20x under -XX:UseAVX=2. MC ~96 rows (sweeps of
        // 48..384 within noise). B is read in place up to 256 rows of C (measured: equal or faster up to
        // 512 rows, 6% slower at 1024).
        int nr = tile.vectors * l;
        int mc = tile.rows * Math.max(1, (96 + tile.rows - 1) / tile.rows);
        // Under -XX:UseAVX=2 (4x3 tile) KC 512 ran 1.05-1.10x KC 1024 with a transposed A and 0.96-1.02x
        // without (Zen 4): the narrower panels pack A more often, and 512 evens the two out.
        int kc = l == 8 ? 512 : 1024;
        // Attention: 48 query columns x 64 keys forward, 144 x 128 backward, measured on Zen 4 (see the
        // constants' history in bench/RESULTS.md, issues 5 and 15); the same on every CPU until measured.
        return new Tuning("defaults", core, tile, l, kc, mc, blockColumns(cpu.l2Bytes(), kc, nr), pack, 256,
                48, 64, 144, 128);
    }

    /**
     * NC: the packed B block (KC x NC floats) is about four L2s, in whole panels, between 4 and 64 of
     * them. It streams from the L3 once per row block of A, so it need not fit the L2; on Zen 4 (1 MiB
     * L2) this is 1024 columns, which ran 1.04-1.24x NC 256 (the L2-sized block) at KC 1024.
     */
    static int blockColumns(long l2, int kc, int nr) {
        long panels = 4 * l2 / ((long) Math.max(1, kc) * Float.BYTES * nr); // a bad kc is refused by the constructor
        return (int) Math.max(4, Math.min(64, panels)) * nr;
    }

    // ------------------------------------------------------------------------------------------------
    // CPU detection

    /** This machine, read once. */
    public static final Cpu CPU = readCpu();

    private static Cpu readCpu() {
        String vendor = "unknown", name = System.getProperty("os.arch", "unknown");
        int family = -1, model = -1;
        Set<String> flags = new TreeSet<>();
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                int colon = line.indexOf(':');
                if (colon < 0) {
                    if (line.isBlank() && family >= 0) {
                        break; // the first processor is enough
                    }
                    continue;
                }
                String key = line.substring(0, colon).trim(), value = line.substring(colon + 1).trim();
                switch (key) {
                    case "vendor_id" -> vendor = value;
                    case "cpu family" -> family = Integer.parseInt(value);
                    case "model" -> model = Integer.parseInt(value);
                    case "model name" -> name = value;
                    case "flags", "Features" -> flags.addAll(java.util.Arrays.asList(value.split("\\s+")));
                    case "CPU implementer" -> vendor = "arm-" + value;
                    case "CPU part" -> model = Integer.decode(value);
                    default -> { }
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux: the defaults go by the vector width alone
        }
        return new Cpu(vendor, family, model, name, Set.copyOf(flags), l2Bytes());
    }

    /** The per-core L2 size from Linux sysfs, or 1 MiB where it cannot be read. */
    static long l2Bytes() {
        for (int index = 0; index < 8; index++) {
            Path dir = Path.of("/sys/devices/system/cpu/cpu0/cache/index" + index);
            try {
                if (!Files.readString(dir.resolve("level")).trim().equals("2")) {
                    continue;
                }
                String size = Files.readString(dir.resolve("size")).trim().toUpperCase(Locale.ROOT);
                long unit = size.endsWith("K") ? 1024 : size.endsWith("M") ? 1024 * 1024 : 1;
                return Long.parseLong(size.replaceAll("[^0-9]", "")) * unit;
            } catch (IOException | RuntimeException e) {
                break; // no sysfs (not Linux, or sandboxed): use the fallback
            }
        }
        return 1L << 20;
    }

    // ------------------------------------------------------------------------------------------------
    // The tuning in force

    private static final int LANES = Backend.SIMD ? dev.lanes.kernels.simd.SimdInfo.floatLanes() : 0;
    private static volatile Tuning current = initial();

    /** The tuning GEMM uses now. */
    public static Tuning current() {
        return current;
    }

    /** The defaults for this CPU and JVM, whatever the property or a tuning file say. */
    public static Tuning defaults() {
        return defaults(CPU, LANES, System.getProperty("os.arch", ""));
    }

    /**
     * Puts a tuning in force for the following GEMM calls and returns the one it replaces: for the
     * autotuner and for tests that run every tile shape on every machine. Not for use while GEMM calls
     * are running on other threads (a call already started finishes with the tuning it read).
     */
    public static Tuning use(Tuning t) {
        Checks.notNull(t, "t");
        if (t.lanes != Math.max(LANES, 1)) {
            throw new IllegalArgumentException("tuning for " + t.lanes + " lanes, this JVM's species has " + LANES);
        }
        Tuning old = current;
        current = t;
        return old;
    }

    /** The key a tuning file is filed under: CPU model, JDK feature release and vector width. */
    public static String machineKey() {
        String cpu = (CPU.vendor() + "-" + CPU.family() + "-" + CPU.model() + "-" + CPU.modelName())
                .toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9]+", "-");
        return cpu + "-jdk" + Runtime.version().feature() + "-" + Math.max(LANES, 1) * 32 + "bit";
    }

    /** Where the autotuner writes, and start-up looks for, this machine's tuning file. */
    public static Path defaultFile() {
        return Path.of(System.getProperty("user.home"), ".config", "lanes", "gemm-" + machineKey() + ".properties");
    }

    /** The file's content for this tuning, with notes (e.g. how much it beat the defaults). */
    public String toFile(Map<String, String> notes) {
        StringBuilder sb = new StringBuilder("# Lanes GEMM tuning (see dev.lanes.kernels.Tuning); -Dlanes.tuning=none ignores it\n");
        for (Map.Entry<String, String> e : notes.entrySet()) {
            sb.append("# ").append(e.getKey()).append(": ").append(e.getValue()).append('\n');
        }
        sb.append("key=").append(machineKey()).append('\n');
        sb.append("spec=").append(spec()).append('\n');
        return sb.toString();
    }

    /** Reads a tuning file; a file for another machine key is refused with the two keys named. */
    public static Tuning load(Path file) throws IOException {
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(file)) {
            p.load(r);
        }
        String key = p.getProperty("key", ""), spec = p.getProperty("spec");
        if (!key.equals(machineKey())) {
            throw new IllegalArgumentException(file + " was written for " + key + ", this machine is " + machineKey());
        }
        if (spec == null) {
            throw new IllegalArgumentException(file + " has no spec= line");
        }
        return defaults().with(spec, "file " + file);
    }

    private static Tuning initial() {
        Tuning d = defaults();
        String prop = System.getProperty("lanes.tuning", "").trim();
        Tuning t = d;
        String note = null;
        try {
            if (prop.equalsIgnoreCase("none")) {
                t = d.with("", "defaults (lanes.tuning=none)");
            } else if (prop.contains("=") && !Files.exists(Path.of(prop))) {
                t = d.with(prop, "lanes.tuning=" + prop);
            } else if (!prop.isEmpty()) {
                t = load(Path.of(prop));
            } else if (Files.exists(defaultFile())) {
                t = load(defaultFile());
            }
        } catch (IOException | RuntimeException e) {
            note = "ignored (" + e.getMessage() + ")";
        }
        if (Backend.SIMD) {
            System.getLogger("dev.lanes.kernels").log(note == null ? Level.INFO : Level.WARNING,
                    "Lanes GEMM tuning in force: " + t.describe() + (note == null ? "" : "; lanes.tuning " + note));
        }
        return t;
    }

    /** The tuning's fields by name, for reports. */
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("core", core);
        m.put("source", source);
        m.put("tile", tile.label());
        m.put("mr", mr());
        m.put("nr", nr());
        m.put("kc", kc);
        m.put("mc", mc);
        m.put("nc", nc);
        m.put("pack", pack.name().toLowerCase(Locale.ROOT));
        m.put("directBMaxM", directBMaxM);
        m.put("attnQ", attnQ);
        m.put("attnKeys", attnKeys);
        m.put("attnBwdQ", attnBwdQ);
        m.put("attnBwdKeys", attnBwdKeys);
        return m;
    }
}
