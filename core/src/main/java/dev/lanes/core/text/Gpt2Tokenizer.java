package dev.lanes.core.text;

import dev.lanes.core.io.Json;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * GPT-2's byte-level byte-pair encoding (Radford et al. 2019, section 2.2), from a {@code vocab.json}
 * plus {@code merges.txt} pair or a Hugging Face {@code tokenizer.json}.
 *
 * <pre>
 *   encode: text -> pieces by PIECES (contractions, letters, digits, other, whitespace; each may take one
 *           leading space) -> UTF-8 bytes of a piece -> one printable character per byte (BYTE_TO_CHAR:
 *           bytes that print as themselves keep their code point, the other 68 take U+0100.. in order,
 *           so ' ' becomes 'Ġ' and '\n' becomes 'Ċ') -> repeatedly merge the adjacent pair with the
 *           lowest merge rank, every occurrence left to right, until no pair has a rank -> vocab ids
 *   decode: ids -> symbols -> characters back to bytes -> UTF-8 (malformed sequences become U+FFFD)
 * </pre>
 *
 * Special tokens such as {@code <|endoftext|>} are ordinary vocabulary entries here: decoding prints
 * them, encoding never produces them from text. Pieces are cached; not safe for concurrent use.
 */
public final class Gpt2Tokenizer {
    /**
     * GPT-2's pre-tokenizer. With UNICODE_CHARACTER_CLASS \s is Unicode whitespace, as in the
     * {@code regex} module GPT-2's encoder used.
     */
    static final Pattern PIECES = Pattern.compile(
            "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
            Pattern.UNICODE_CHARACTER_CLASS);

    private static final char[] BYTE_TO_CHAR = new char[256];
    private static final int[] CHAR_TO_BYTE = new int[512];

    static {
        Arrays.fill(CHAR_TO_BYTE, -1);
        int extra = 0;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            char c = printable ? (char) b : (char) (256 + extra++);
            BYTE_TO_CHAR[b] = c;
            CHAR_TO_BYTE[c] = b;
        }
    }

    private final Map<String, Integer> vocab;
    private final String[] byId;
    private final Map<String, Integer> ranks;
    private final Map<String, int[]> cache = new HashMap<>();

    /**
     * A tokenizer from a vocabulary (symbol to id; ids distinct and >= 0) and merges in rank order (each
     * a pair of symbols, lowest rank first).
     */
    public Gpt2Tokenizer(Map<String, Integer> vocab, List<String[]> merges) {
        if (vocab == null || merges == null) {
            throw new NullPointerException(vocab == null ? "vocab" : "merges");
        }
        int max = -1;
        for (Map.Entry<String, Integer> e : vocab.entrySet()) {
            if (e.getValue() == null || e.getValue() < 0) {
                throw new IllegalArgumentException("vocab entry '" + e.getKey() + "' has id " + e.getValue() + ", need >= 0");
            }
            max = Math.max(max, e.getValue());
        }
        String[] ids = new String[max + 1];
        for (Map.Entry<String, Integer> e : vocab.entrySet()) {
            if (ids[e.getValue()] != null) {
                throw new IllegalArgumentException("vocab ids repeat: '" + ids[e.getValue()] + "' and '" + e.getKey() + "' are both "
                        + e.getValue());
            }
            ids[e.getValue()] = e.getKey();
        }
        Map<String, Integer> r = new HashMap<>();
        for (int i = 0; i < merges.size(); i++) {
            String[] m = merges.get(i);
            if (m == null || m.length != 2 || m[0].isEmpty() || m[1].isEmpty() || m[0].indexOf(' ') >= 0 || m[1].indexOf(' ') >= 0) {
                throw new IllegalArgumentException("merge " + i + " is " + Arrays.toString(m) + ", need two non-empty symbols without spaces");
            }
            r.putIfAbsent(m[0] + " " + m[1], i);  // a repeated pair keeps its first (lowest) rank
        }
        this.vocab = Collections.unmodifiableMap(new HashMap<>(vocab));
        this.byId = ids;
        this.ranks = r;
    }

    /**
     * Loads {@code path}: a {@code tokenizer.json} file, a {@code vocab.json} (its {@code merges.txt}
     * beside it), or a directory holding either (tokenizer.json preferred).
     */
    public static Gpt2Tokenizer load(Path path) throws IOException {
        if (Files.isDirectory(path)) {
            Path tj = path.resolve("tokenizer.json");
            return Files.exists(tj) ? fromTokenizerJson(tj) : fromVocabAndMerges(path.resolve("vocab.json"), path.resolve("merges.txt"));
        }
        String name = path.getFileName().toString();
        if (name.equals("vocab.json")) {
            return fromVocabAndMerges(path, path.resolveSibling("merges.txt"));
        }
        return fromTokenizerJson(path);
    }

    /** GPT-2's original pair of files: {@code vocab.json} (symbol: id) and {@code merges.txt} ("a b" per line). */
    public static Gpt2Tokenizer fromVocabAndMerges(Path vocabJson, Path mergesTxt) throws IOException {
        Map<String, Integer> vocab = vocab(vocabJson, parse(vocabJson));
        List<String[]> merges = new ArrayList<>();
        List<String> lines = Files.readAllLines(mergesTxt, StandardCharsets.UTF_8);
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i);
            if ((i == 0 && line.startsWith("#version")) || line.isEmpty()) {
                continue;
            }
            String[] pair = line.split(" ", -1);
            if (pair.length != 2) {
                throw new IOException(mergesTxt + ": line " + (i + 1) + " is '" + line + "', expected two symbols separated by one space");
            }
            merges.add(pair);
        }
        return build(mergesTxt, vocab, merges);
    }

    /** A Hugging Face {@code tokenizer.json} whose model is BPE; merges as "a b" strings or [a, b] pairs. */
    public static Gpt2Tokenizer fromTokenizerJson(Path file) throws IOException {
        Object root = parse(file);
        if (!(root instanceof Map<?, ?> top) || !(top.get("model") instanceof Map<?, ?> model)) {
            throw new IOException(file + ": no \"model\" object");
        }
        if (!"BPE".equals(model.get("type"))) {
            throw new IOException(file + ": model type is " + model.get("type") + ", expected BPE");
        }
        Map<String, Integer> vocab = vocab(file, model.get("vocab"));
        if (!(model.get("merges") instanceof List<?> list)) {
            throw new IOException(file + ": model.merges is " + Json.typeName(model.get("merges")) + ", expected an array");
        }
        List<String[]> merges = new ArrayList<>();
        for (int i = 0; i < list.size(); i++) {
            Object m = list.get(i);
            if (m instanceof String s && s.split(" ", -1).length == 2) {
                merges.add(s.split(" ", -1));
            } else if (m instanceof List<?> p && p.size() == 2 && p.get(0) instanceof String a && p.get(1) instanceof String b) {
                merges.add(new String[] {a, b});
            } else {
                throw new IOException(file + ": model.merges[" + i + "] is " + m + ", expected \"a b\" or [\"a\", \"b\"]");
            }
        }
        return build(file, vocab, merges);
    }

    private static Gpt2Tokenizer build(Path file, Map<String, Integer> vocab, List<String[]> merges) throws IOException {
        try {
            return new Gpt2Tokenizer(vocab, merges);
        } catch (IllegalArgumentException e) {
            throw new IOException(file + ": " + e.getMessage(), e);
        }
    }

    private static Object parse(Path file) throws IOException {
        try {
            return Json.parse(Files.readString(file, StandardCharsets.UTF_8));
        } catch (IllegalArgumentException e) {
            throw new IOException(file + ": " + e.getMessage(), e);
        }
    }

    private static Map<String, Integer> vocab(Path file, Object v) throws IOException {
        if (!(v instanceof Map<?, ?> m)) {
            throw new IOException(file + ": vocabulary is " + Json.typeName(v) + ", expected an object of symbol: id");
        }
        Map<String, Integer> out = new HashMap<>();
        for (Map.Entry<?, ?> e : m.entrySet()) {
            if (!(e.getValue() instanceof Long id) || id < 0 || id > Integer.MAX_VALUE - 16) {
                throw new IOException(file + ": vocabulary entry '" + e.getKey() + "' has id " + e.getValue() + ", expected an integer >= 0");
            }
            out.put((String) e.getKey(), (int) (long) id);
        }
        return out;
    }

    /** One more than the largest id. */
    public int vocabSize() {
        return byId.length;
    }

    /** The symbol of {@code id} (byte-level characters, e.g. "Ġthe"). */
    public String symbol(int id) {
        if (id < 0 || id >= byId.length || byId[id] == null) {
            throw new IllegalArgumentException("token id " + id + " is not in the vocabulary (size " + byId.length + ")");
        }
        return byId[id];
    }

    /** GPT-2's pieces of {@code text}, before byte mapping (for tests and debugging). */
    public static List<String> pieces(String text) {
        List<String> out = new ArrayList<>();
        Matcher m = PIECES.matcher(text);
        while (m.find()) {
            out.add(m.group());
        }
        return out;
    }

    /** The token ids of {@code text}. */
    public int[] encode(String text) {
        List<int[]> parts = new ArrayList<>();
        int total = 0;
        for (String piece : pieces(text)) {
            int[] ids = cache.get(piece);
            if (ids == null) {
                ids = bpe(piece);
                cache.put(piece, ids);
            }
            parts.add(ids);
            total += ids.length;
        }
        int[] out = new int[total];
        int at = 0;
        for (int[] p : parts) {
            System.arraycopy(p, 0, out, at, p.length);
            at += p.length;
        }
        return out;
    }

    private int[] bpe(String piece) {
        List<String> symbols = new ArrayList<>();
        for (byte b : piece.getBytes(StandardCharsets.UTF_8)) {
            symbols.add(String.valueOf(BYTE_TO_CHAR[b & 0xff]));
        }
        while (symbols.size() > 1) {
            int best = Integer.MAX_VALUE;
            String left = null, right = null;
            for (int i = 0; i + 1 < symbols.size(); i++) {
                Integer r = ranks.get(symbols.get(i) + " " + symbols.get(i + 1));
                if (r != null && r < best) {
                    best = r;
                    left = symbols.get(i);
                    right = symbols.get(i + 1);
                }
            }
            if (left == null) {
                break;
            }
            List<String> merged = new ArrayList<>(symbols.size());
            for (int i = 0; i < symbols.size(); i++) {
                if (i + 1 < symbols.size() && symbols.get(i).equals(left) && symbols.get(i + 1).equals(right)) {
                    merged.add(left + right);
                    i++;
                } else {
                    merged.add(symbols.get(i));
                }
            }
            symbols = merged;
        }
        int[] ids = new int[symbols.size()];
        for (int i = 0; i < ids.length; i++) {
            Integer id = vocab.get(symbols.get(i));
            if (id == null) {
                throw new IllegalArgumentException("symbol '" + symbols.get(i) + "' of piece '" + piece + "' is not in the vocabulary");
            }
            ids[i] = id;
        }
        return ids;
    }

    /** The text of {@code ids[off .. off+n)}; bytes that are not valid UTF-8 decode to U+FFFD. */
    public String decode(int[] ids, int off, int n) {
        if (off < 0 || n < 0 || (long) off + n > ids.length) {
            throw new IllegalArgumentException("off=" + off + ", n=" + n + " outside ids.length=" + ids.length);
        }
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        for (int i = off; i < off + n; i++) {
            String s = symbol(ids[i]);
            for (int k = 0; k < s.length(); k++) {
                char c = s.charAt(k);
                int b = c < CHAR_TO_BYTE.length ? CHAR_TO_BYTE[c] : -1;
                if (b < 0) {
                    throw new IllegalArgumentException("symbol '" + s + "' of id " + ids[i] + " has character U+"
                            + Integer.toHexString(c).toUpperCase() + ", not a byte-level character");
                }
                bytes.write(b);
            }
        }
        return bytes.toString(StandardCharsets.UTF_8);
    }

    /** {@link #decode(int[], int, int)} of the whole array. */
    public String decode(int[] ids) {
        return decode(ids, 0, ids.length);
    }
}
