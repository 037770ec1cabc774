package dev.lanes.tests.adversarial;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import dev.lanes.core.nn.Gpt;
import dev.lanes.core.nn.GptCheckpoint;
import dev.lanes.core.nn.GptConfig;
import dev.lanes.core.nn.NormKind;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Corrupt checkpoints, by class: truncation at every length class (inside each header field, at each
 * field boundary, inside the body, one byte short, one byte long), a flip of every bit of every header
 * byte and of sampled body bytes, and every single-field change of the config. Each must be an
 * IOException naming the file and a byte offset, and the model loaded into must keep its parameters
 * bit for bit.
 */
class CheckpointCorruptionTest {
    static final GptConfig CFG = new GptConfig(11, 8, 2, 16, 4, 2, 4, 24, NormKind.LAYER, 1e-5f);
    static final int[] FIELD_STARTS = {0, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 48, 52, 60, 68};

    @TempDir
    static Path dir;
    static byte[] good;
    static Gpt model;
    static int[] before;

    @BeforeAll
    static void save() throws IOException {
        Gpt src = new Gpt(CFG, 1, 8);
        src.init(5);
        Path f = dir.resolve("good.bin");
        GptCheckpoint.save(f, CFG, src.params());
        good = Files.readAllBytes(f);
        model = new Gpt(CFG, 1, 8);
        model.init(77); // different parameters: a load that wrote anything would show
        before = bits(model.params());
    }

    @Test
    void everyTruncationIsRefused() throws IOException {
        List<Integer> lengths = new ArrayList<>();
        for (int start : FIELD_STARTS) {
            for (int d = -1; d <= 1; d++) {
                if (start + d >= 0 && start + d < good.length) {
                    lengths.add(start + d);
                }
            }
        }
        for (int n : new int[] {2, 3, 5, 69, 72, (good.length + 68) / 2, good.length - 4, good.length - 1}) {
            lengths.add(n);
        }
        for (int n : lengths) {
            byte[] bad = java.util.Arrays.copyOf(good, n);
            expectRefused("truncated to " + n + " bytes", bad);
        }
        byte[] longer = java.util.Arrays.copyOf(good, good.length + 1);
        expectRefused("one byte appended", longer);
    }

    @Test
    void everyHeaderBitFlipIsRefused() throws IOException {
        for (int at = 0; at < 68; at++) {
            for (int bit = 0; bit < 8; bit++) {
                byte[] bad = good.clone();
                bad[at] ^= (byte) (1 << bit);
                expectRefused("header byte " + at + " bit " + bit, bad);
            }
        }
    }

    @Test
    void bodyBitFlipsAreRefusedByTheCrc() throws IOException {
        for (int at = 68; at < good.length; at += 97) {
            for (int bit : new int[] {0, 7}) {
                byte[] bad = good.clone();
                bad[at] ^= (byte) (1 << bit);
                expectRefused("body byte " + at + " bit " + bit, bad);
            }
        }
    }

    /** A valid file of another config, for every field that can differ, with and without its CRC intact. */
    @Test
    void everyWrongConfigIsRefused() throws IOException {
        List<GptConfig> others = List.of(
                new GptConfig(12, 8, 2, 16, 4, 2, 4, 24, NormKind.LAYER, 1e-5f),
                new GptConfig(11, 9, 2, 16, 4, 2, 4, 24, NormKind.LAYER, 1e-5f),
                new GptConfig(11, 8, 1, 16, 4, 2, 4, 24, NormKind.LAYER, 1e-5f),
                new GptConfig(11, 8, 2, 8, 4, 2, 4, 24, NormKind.LAYER, 1e-5f),
                new GptConfig(11, 8, 2, 16, 2, 2, 4, 24, NormKind.LAYER, 1e-5f),
                new GptConfig(11, 8, 2, 16, 4, 1, 4, 24, NormKind.LAYER, 1e-5f),
                new GptConfig(11, 8, 2, 16, 4, 2, 2, 24, NormKind.LAYER, 1e-5f),
                new GptConfig(11, 8, 2, 16, 4, 2, 4, 12, NormKind.LAYER, 1e-5f),
                new GptConfig(11, 8, 2, 16, 4, 2, 4, 24, NormKind.RMS, 1e-5f),
                new GptConfig(11, 8, 2, 16, 4, 2, 4, 24, NormKind.LAYER, 1e-6f));
        for (GptConfig other : others) {
            Gpt g = new Gpt(other, 1, 4);
            g.init(3);
            Path f = dir.resolve("other.bin");
            GptCheckpoint.save(f, other, g.params());
            expectRefused("saved with " + other, Files.readAllBytes(f));
        }
        // header fields that no config can hold: zero, negative, int limits
        for (int field = 12; field <= 40; field += 4) {
            for (int v : new int[] {0, -1, Integer.MIN_VALUE, Integer.MAX_VALUE}) {
                byte[] bad = good.clone();
                ByteBuffer.wrap(bad).order(ByteOrder.LITTLE_ENDIAN).putInt(field, v);
                expectRefused("int field at " + field + " = " + v, bad);
            }
        }
        for (float eps : new float[] {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 0f, -1f}) {
            byte[] bad = good.clone();
            ByteBuffer.wrap(bad).order(ByteOrder.LITTLE_ENDIAN).putFloat(48, eps);
            expectRefused("normEps " + eps, bad);
        }
        for (long count : new long[] {-1, 0, Long.MAX_VALUE, Integer.MAX_VALUE + 1L}) {
            byte[] bad = good.clone();
            ByteBuffer.wrap(bad).order(ByteOrder.LITTLE_ENDIAN).putLong(52, count);
            expectRefused("count " + count, bad);
        }
    }

    /** A config whose layout cannot exist in one Java array is an IOException, not an internal IAE. */
    @Test
    void aHeaderDescribingAnImpossibleModelIsAnIOException() throws IOException {
        byte[] bad = good.clone();
        ByteBuffer b = ByteBuffer.wrap(bad).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(12, 1 << 20).putInt(24, 1 << 16); // vocab * dim = 2^36 floats
        Path f = dir.resolve("huge.bin");
        Files.write(f, bad);
        Throwable t = catchThrowable(() -> GptCheckpoint.load(f));
        assertThat(t).isInstanceOf(IOException.class).hasMessageContaining(f.toString()).hasMessageContaining("offset");
    }

    void expectRefused(String what, byte[] bad) throws IOException {
        Path f = dir.resolve("bad.bin");
        Files.write(f, bad);
        Throwable t = catchThrowable(() -> GptCheckpoint.load(f, CFG, model.params()));
        assertThat(t).as(what).isInstanceOf(IOException.class);
        assertThat(t.getMessage()).as(what).contains(f.toString()).contains("offset");
        assertThat(bits(model.params())).as(what + ": the model's parameters after the failed load").isEqualTo(before);
        Throwable any = catchThrowable(() -> GptCheckpoint.load(f));
        if (any != null) { // without an expected config, a valid other model may load; anything else is an IOException
            assertThat(any).as(what + " (no expected config)").isInstanceOf(IOException.class);
            assertThat(any.getMessage()).contains("offset");
        }
    }

    static int[] bits(float[] x) {
        int[] b = new int[x.length];
        for (int i = 0; i < x.length; i++) {
            b[i] = Float.floatToRawIntBits(x[i]);
        }
        return b;
    }
}
