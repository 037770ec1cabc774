package dev.lanes.tests.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanes.core.io.Safetensors;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** The safetensors reader and writer: exact bytes, dtype conversion, and every malformed file refused. */
class SafetensorsTest {
    @TempDir
    Path dir;

    @Test
    void writesTheBytesTheFormatDefines() throws IOException {
        Path f = dir.resolve("a.safetensors");
        Safetensors.write(f, null, List.of(new Safetensors.Entry("a", new long[] {2}, new float[] {9f, 1f, -2f}, 1)));
        String json = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";  // 54 bytes, padded to 56
        ByteBuffer want = ByteBuffer.allocate(8 + 56 + 8).order(ByteOrder.LITTLE_ENDIAN);
        want.putLong(56).put(json.getBytes(StandardCharsets.US_ASCII)).put((byte) ' ').put((byte) ' ');
        want.put(new byte[] {0, 0, (byte) 0x80, 0x3f, 0, 0, 0, (byte) 0xc0});  // 1.0f, -2.0f little-endian
        assertThat(Files.readAllBytes(f)).isEqualTo(want.array());
    }

    @Test
    void writtenFilesGetTheDefaultPermissionsAndNoTemporaryFileStays() throws IOException {
        Path f = dir.resolve("p.safetensors"), plain = Files.createFile(dir.resolve("plain"));
        Safetensors.write(f, null, List.of(new Safetensors.Entry("a", new long[] {1}, new float[1], 0)));
        Safetensors.write(f, null, List.of(new Safetensors.Entry("b", new long[] {1}, new float[1], 0)));  // replaces
        if (Files.getFileStore(dir).supportsFileAttributeView("posix")) {
            assertThat(Files.getPosixFilePermissions(f)).isEqualTo(Files.getPosixFilePermissions(plain));
        }
        try (var files = Files.list(dir)) {
            assertThat(files.map(p -> p.getFileName().toString()).sorted().toList()).containsExactly("p.safetensors", "plain");
        }
        try (Safetensors st = Safetensors.open(f)) {
            assertThat(st.tensors()).extracting(Safetensors.Tensor::name).containsExactly("b");
        }
    }

    @Test
    void roundTripIsBitExactWithMetadata() throws IOException {
        float[] big = new float[300_000];  // more than one 1 MiB read chunk
        Random r = new Random(3);
        for (int i = 0; i < big.length; i++) {
            big[i] = (float) r.nextGaussian();
        }
        float[] odd = {Float.MIN_VALUE, -0f, Float.MAX_VALUE, Math.nextUp(1f), Float.NEGATIVE_INFINITY};
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", "pt");
        meta.put("note", "quotes \" and \\ and \n survive");
        Path f = dir.resolve("b.safetensors");
        Safetensors.write(f, meta, List.of(new Safetensors.Entry("big", new long[] {600, 500}, big, 0),
                new Safetensors.Entry("odd", new long[] {5}, odd, 0),
                new Safetensors.Entry("scalar", new long[] {}, odd, 3),
                new Safetensors.Entry("empty", new long[] {0, 7}, odd, 5)));
        assertThat((Files.size(f) - 8 - 4L * (big.length + 6)) % 8).as("header padded to 8 bytes").isZero();
        try (Safetensors st = Safetensors.open(f)) {
            assertThat(st.metadata()).isEqualTo(meta);
            assertThat(st.tensors()).extracting(Safetensors.Tensor::name).containsExactly("big", "odd", "scalar", "empty");
            assertThat(st.tensor("big").shape()).containsExactly(600, 500);
            assertThat(st.tensor("scalar").shape()).isEmpty();
            assertThat(st.tensor("scalar").elements()).isEqualTo(1);
            float[] got = new float[big.length + 2];
            Arrays.fill(got, 42f);
            st.readFloats("big", got, 1);
            assertThat(got[0]).isEqualTo(42f);
            assertThat(got[got.length - 1]).isEqualTo(42f);
            assertThat(Arrays.equals(Arrays.copyOfRange(got, 1, big.length + 1), big)).isTrue();
            float[] o = new float[5];
            st.readFloats("odd", o, 0);
            for (int i = 0; i < 5; i++) {
                assertThat(Float.floatToRawIntBits(o[i])).isEqualTo(Float.floatToRawIntBits(odd[i]));
            }
            assertThatThrownBy(() -> st.readFloats("odd", new float[5], 1)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("no room for 5 floats at 1");
            st.readFloats("scalar", o, 0);
            assertThat(o[0]).isEqualTo(Math.nextUp(1f));
            assertThat(st.readDoubles("empty")).isEmpty();
        }
    }

    @Test
    void halfAndBfloat16WidenExactly() throws IOException {
        Path f = dir.resolve("h.safetensors");
        // F16: 1, -2, 65504 (largest), 2^-24 (smallest subnormal), +inf, -0
        // BF16: 1, -3, +inf, the smallest subnormal (float bits 0x00010000)
        StFiles.write(f, "{\"h\":{\"dtype\":\"F16\",\"shape\":[6],\"data_offsets\":[0,12]},"
                + "\"b\":{\"dtype\":\"BF16\",\"shape\":[2,2],\"data_offsets\":[12,20]}}",
                StFiles.concat(StFiles.shorts(0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00, 0x8000),
                        StFiles.shorts(0x3f80, 0xc040, 0x7f80, 0x0001)));
        try (Safetensors st = Safetensors.open(f)) {
            float[] h = new float[6], b = new float[4];
            st.readFloats("h", h, 0);
            st.readFloats("b", b, 0);
            assertThat(h).containsExactly(1f, -2f, 65504f, (float) Math.scalb(1.0, -24), Float.POSITIVE_INFINITY, -0f);
            assertThat(Float.floatToRawIntBits(h[5])).isEqualTo(0x80000000);
            assertThat(b).containsExactly(1f, -3f, Float.POSITIVE_INFINITY, Float.intBitsToFloat(0x00010000));
            assertThat(st.readDoubles("b")).containsExactly(1, -3, Double.POSITIVE_INFINITY, Float.intBitsToFloat(0x00010000));
        }
    }

    @Test
    void doublesAndIntegers() throws IOException {
        Path f = dir.resolve("d.safetensors");
        ByteBuffer d = ByteBuffer.allocate(16 + 16 + 8).order(ByteOrder.LITTLE_ENDIAN);
        d.putDouble(0.1).putDouble(-1e300).putLong(-5).putLong(1L << 40).putInt(-7).putInt(8);
        StFiles.write(f, "{\"d\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[0,16]},"
                + "\"l\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[16,32]},"
                + "\"i\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[32,40]}}", d.array());
        try (Safetensors st = Safetensors.open(f)) {
            assertThat(st.readDoubles("d")).containsExactly(0.1, -1e300);
            assertThat(st.readLongs("l")).containsExactly(-5, 1L << 40);
            assertThat(st.readLongs("i")).containsExactly(-7, 8);
            assertThatThrownBy(() -> st.readFloats("d", new float[2], 0)).isInstanceOf(IOException.class)
                    .hasMessageContaining("'d' has dtype F64");
            assertThatThrownBy(() -> st.readLongs("d")).isInstanceOf(IOException.class).hasMessageContaining("'d' has dtype F64");
            assertThatThrownBy(() -> st.readFloats("nope", new float[2], 0)).isInstanceOf(IOException.class)
                    .hasMessageContaining("no tensor 'nope'");
        }
    }

    /** A malformed file: its header, its data, and what the message must say. */
    record Bad(String what, String header, byte[] data, String message) {
        @Override
        public String toString() {
            return what;
        }
    }

    static final String A = "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}";

    static List<Bad> badHeaders() {
        byte[] eight = new byte[8], twelve = new byte[12], twenty = new byte[20];
        return List.of(
                new Bad("not an object", "[1]", eight, "does not start with '{'"),
                new Bad("trailing comma", "{" + A + ",}", eight, "not strict JSON"),
                new Bad("duplicate name", "{" + A + "," + A + "}", eight, "duplicate key \"a\""),
                new Bad("unknown dtype", "{\"a\":{\"dtype\":\"F33\",\"shape\":[2],\"data_offsets\":[0,8]}}", eight,
                        "tensor 'a': unknown dtype 'F33'"),
                new Bad("dtype not a string", "{\"a\":{\"dtype\":4,\"shape\":[2],\"data_offsets\":[0,8]}}", eight,
                        "tensor 'a': dtype is integer"),
                new Bad("wrong dtype size", "{\"a\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[0,8]}}", eight,
                        "span 8 bytes, shape [2] of F64 needs 16"),
                new Bad("negative dim", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", eight,
                        "expected a non-negative integer"),
                new Bad("fractional dim", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}", eight,
                        "expected a non-negative integer"),
                new Bad("shape overflow", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}",
                        eight, "more elements than a long counts"),
                new Bad("unknown field", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"x\":1}}", eight,
                        "unknown fields [x]"),
                new Bad("one offset", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8]}}", eight, "expected [begin, end]"),
                new Bad("begin after end", "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,0]}}", eight,
                        "need 0 <= begin <= end"),
                new Bad("offsets past the data", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", eight,
                        "run past the 8-byte data section"),
                new Bad("overlap", "{" + A + ",\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", twelve,
                        "tensor 'b' data_offsets [4, 12] overlap tensor 'a' [0, 8]"),
                new Bad("gap", "{" + A + ",\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}", twenty,
                        "data bytes [8, 12) belong to no tensor"),
                new Bad("hole at the start", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", twelve,
                        "data bytes [0, 4) belong to no tensor"),
                new Bad("trailing bytes", "{" + A + "}", twelve, "4 bytes after the last tensor"),
                new Bad("metadata not strings", "{\"__metadata__\":{\"k\":1}," + A + "}", eight,
                        "__metadata__ entry 'k' is integer"),
                new Bad("metadata not an object", "{\"__metadata__\":[]," + A + "}", eight, "__metadata__ is array"),
                new Bad("tensor not an object", "{\"a\":[1]}", eight, "tensor 'a' is array"),
                new Bad("leading space", " {" + A + "}", eight, "does not start with '{'"));
    }

    @ParameterizedTest
    @MethodSource("badHeaders")
    void malformedHeadersAreRefusedNamingFileAndTensor(Bad bad) throws IOException {
        Path f = dir.resolve("bad.safetensors");
        StFiles.write(f, bad.header(), bad.data());
        assertThatThrownBy(() -> Safetensors.open(f).close()).isInstanceOf(IOException.class)
                .hasMessageContaining(f.toString()).hasMessageContaining(bad.message());
    }

    @Test
    void lengthFieldAndFileSizeAreChecked() throws IOException {
        Path f = dir.resolve("len.safetensors");
        byte[] h = ("{" + A + "}").getBytes(StandardCharsets.UTF_8);
        for (int cut : new int[] {0, 1, 7}) {
            Files.write(f, new byte[cut]);
            assertThatThrownBy(() -> Safetensors.open(f)).as("%d bytes", cut).isInstanceOf(IOException.class)
                    .hasMessageContaining(f + ": " + cut + " bytes, shorter than the 8-byte header length");
        }
        StFiles.write(f, h.length + 9, h, new byte[8]);  // header length past the end of the file
        assertThatThrownBy(() -> Safetensors.open(f)).isInstanceOf(IOException.class)
                .hasMessageContaining("header length " + (h.length + 9) + " at offset 0 runs past the end");
        StFiles.write(f, -1, h, new byte[8]);  // 2^64 - 1 read unsigned
        assertThatThrownBy(() -> Safetensors.open(f)).isInstanceOf(IOException.class)
                .hasMessageContaining("header length 18446744073709551615 at offset 0 exceeds the limit");
        StFiles.write(f, Safetensors.MAX_HEADER_BYTES + 1, h, new byte[8]);
        assertThatThrownBy(() -> Safetensors.open(f)).isInstanceOf(IOException.class).hasMessageContaining("exceeds the limit");
        StFiles.write(f, h.length - 1, h, new byte[8]);  // header cut short: its JSON is unterminated
        assertThatThrownBy(() -> Safetensors.open(f)).isInstanceOf(IOException.class).hasMessageContaining("not strict JSON");
        StFiles.write(f, 0, new byte[0], new byte[0]);
        assertThatThrownBy(() -> Safetensors.open(f)).isInstanceOf(IOException.class).hasMessageContaining("too short");

        byte[] badUtf8 = ("{\"a\u00e9\":" + A.substring(4) + "}").getBytes(StandardCharsets.UTF_8);
        for (int i = 0; i < badUtf8.length; i++) {
            if (badUtf8[i] == (byte) 0xc3) {
                badUtf8[i] = (byte) 0xff;  // never valid in UTF-8
            }
        }
        StFiles.write(f, badUtf8.length, badUtf8, new byte[8]);
        assertThatThrownBy(() -> Safetensors.open(f)).isInstanceOf(IOException.class).hasMessageContaining("not valid UTF-8");
    }

    @Test
    void truncatedFilesAreRefused() throws IOException {
        Path f = dir.resolve("t.safetensors");
        Safetensors.write(f, Map.of(), List.of(new Safetensors.Entry("a", new long[] {3, 4}, new float[12], 0),
                new Safetensors.Entry("b", new long[] {5}, new float[5], 0)));
        byte[] all = Files.readAllBytes(f);
        int headerEnd = 8 + (int) ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        for (int cut = 0; cut < all.length; cut++) {
            Files.write(f, Arrays.copyOf(all, cut));
            String want = cut < 8 ? "shorter than the 8-byte header length"
                    : cut < headerEnd ? "runs past the end" : "run past the";
            int c = cut;
            assertThatThrownBy(() -> Safetensors.open(f)).as("cut at %d", c).isInstanceOf(IOException.class)
                    .hasMessageContaining(want);
        }
    }

    /**
     * Random damage to a valid file's header (1 to 3 bytes changed, or the header cut and re-measured):
     * opening either succeeds, and then every tensor reads, or fails with an IOException; never another
     * exception, a hang or an allocation the file does not justify.
     */
    @Test
    void damagedHeadersFailOnlyWithIOException() throws IOException {
        Path f = dir.resolve("fuzz.safetensors");
        Safetensors.write(f, Map.of("format", "pt"), List.of(new Safetensors.Entry("a.weight", new long[] {3, 4}, new float[12], 0),
                new Safetensors.Entry("b", new long[] {5}, new float[5], 0), new Safetensors.Entry("c", new long[] {}, new float[1], 0)));
        byte[] good = Files.readAllBytes(f);
        int n = (int) ByteBuffer.wrap(good).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        byte[] alphabet = "{}[]\",:0123456789-eE.FIBU \\".getBytes(StandardCharsets.US_ASCII);
        Random r = new Random(2024);
        int opened = 0, refused = 0;
        for (int trial = 0; trial < 1000; trial++) {
            byte[] bad = good.clone();
            for (int k = 1 + r.nextInt(3); k > 0; k--) {
                int at = 8 + r.nextInt(n);
                bad[at] = r.nextBoolean() ? alphabet[r.nextInt(alphabet.length)] : (byte) r.nextInt(256);
            }
            Files.write(f, bad);
            try (Safetensors st = Safetensors.open(f)) {
                for (Safetensors.Tensor t : st.tensors()) {
                    if (t.dtype() == Safetensors.DType.F32 || t.dtype() == Safetensors.DType.F16 || t.dtype() == Safetensors.DType.BF16) {
                        st.readFloats(t.name(), new float[(int) t.elements()], 0);
                    }
                }
                opened++;
            } catch (IOException expected) {
                assertThat(expected.getMessage()).as("trial %d", trial).startsWith(f.toString());
                refused++;
            }
        }
        assertThat(refused).isGreaterThan(500);  // most damage is caught...
        assertThat(opened).isGreaterThan(0);      // ...and some is harmless (inside a name, metadata, padding)
    }

    @Test
    void writerRefusesBadEntriesAndLeavesNoFile() {
        Path f = dir.resolve("w.safetensors");
        float[] x = new float[4];
        assertThatThrownBy(() -> Safetensors.write(f, null, List.of(new Safetensors.Entry("a", new long[] {5}, x, 0))))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("5 floats from offset 0 exceed data.length=4");
        assertThatThrownBy(() -> Safetensors.write(f, null, List.of(new Safetensors.Entry("a", new long[] {2}, x, 0),
                new Safetensors.Entry("a", new long[] {2}, x, 2)))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'a' is reserved or repeated");
        assertThatThrownBy(() -> Safetensors.write(f, null, List.of(new Safetensors.Entry("__metadata__", new long[] {2}, x, 0))))
                .isInstanceOf(IllegalArgumentException.class);
        assertThat(dir.toFile().list()).isEmpty();
    }
}
