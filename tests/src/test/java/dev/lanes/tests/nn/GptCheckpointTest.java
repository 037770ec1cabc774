package dev.lanes.tests.nn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanes.core.nn.GptCheckpoint;
import dev.lanes.core.nn.GptConfig;
import dev.lanes.core.nn.NormKind;
import dev.lanes.core.nn.ParamLayout;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The checkpoint format: bit-exact round trips, and every malformed file refused with the target untouched. */
class GptCheckpointTest {
    private static final GptConfig CFG = GptConfig.of(23, 9, 2, 16, 4, 2).withNorm(NormKind.RMS);

    @TempDir
    Path dir;

    private static float[] randomParams(GptConfig cfg) {
        float[] p = new float[ParamLayout.of(cfg).size()];
        Random r = new Random(11);
        for (int i = 0; i < p.length; i++) {
            p[i] = (float) r.nextGaussian();
        }
        // values whose bits a lossy format would change: subnormal, -0, extremes
        p[0] = Float.MIN_VALUE;
        p[1] = -0f;
        p[2] = Float.MAX_VALUE;
        p[3] = Math.nextUp(1f);
        return p;
    }

    private static float[] sentinel(int n) {
        float[] p = new float[n];
        Arrays.fill(p, 42f);
        return p;
    }

    @Test
    void roundTripIsBitExact() throws IOException {
        float[] p = randomParams(CFG);
        Path f = dir.resolve("model.bin");
        GptCheckpoint.save(f, CFG, p);
        assertThat(Files.size(f)).isEqualTo(68 + 4L * p.length);

        float[] into = new float[p.length];
        GptCheckpoint.load(f, CFG, into);
        for (int i = 0; i < p.length; i++) {
            assertThat(Float.floatToRawIntBits(into[i])).as("param %d", i).isEqualTo(Float.floatToRawIntBits(p[i]));
        }
        GptCheckpoint.Loaded any = GptCheckpoint.load(f);
        assertThat(any.config()).isEqualTo(CFG);
        assertThat(Arrays.equals(any.params(), p)).isTrue();
        try (var files = Files.list(dir)) {
            assertThat(files.map(Path::getFileName).map(Path::toString).toList()).containsExactly("model.bin");
        }
    }

    @Test
    void truncatedFileIsRefusedAndNothingIsLoaded() throws IOException {
        float[] p = randomParams(CFG);
        Path f = dir.resolve("model.bin");
        GptCheckpoint.save(f, CFG, p);
        byte[] all = Files.readAllBytes(f);
        for (int cut : new int[] {0, 7, 40, 67, 68, all.length - 1}) {
            Files.write(f, Arrays.copyOf(all, cut));
            float[] into = sentinel(p.length);
            assertThatThrownBy(() -> GptCheckpoint.load(f, CFG, into)).as("cut at %d", cut)
                    .isInstanceOf(IOException.class).hasMessageContaining("bytes");
            assertThat(into).as("cut at %d", cut).containsOnly(42f);
        }
        // a file longer than its header claims is refused too
        Files.write(f, Arrays.copyOf(all, all.length + 4));
        assertThatThrownBy(() -> GptCheckpoint.load(f)).hasMessageContaining("the header claims");
    }

    @Test
    void mismatchedConfigIsRefused() throws IOException {
        float[] p = randomParams(CFG);
        Path f = dir.resolve("model.bin");
        GptCheckpoint.save(f, CFG, p);
        GptConfig other = CFG.withNorm(NormKind.LAYER);
        float[] into = sentinel(ParamLayout.of(other).size());
        assertThatThrownBy(() -> GptCheckpoint.load(f, other, into)).isInstanceOf(IOException.class)
                .hasMessageContaining("expected").hasMessageContaining("RMS");
        assertThat(into).containsOnly(42f);
    }

    @Test
    void corruptedHeaderOrBodyIsRefused() throws IOException {
        float[] p = randomParams(CFG);
        Path f = dir.resolve("model.bin");
        GptCheckpoint.save(f, CFG, p);
        byte[] good = Files.readAllBytes(f);

        expectRefusal(f, good, 0, (byte) 'X', "magic");
        ByteBuffer b = ByteBuffer.wrap(good.clone()).order(ByteOrder.LITTLE_ENDIAN);
        expectRefusal(f, b.putInt(8, 2).array(), "version 2");
        b = ByteBuffer.wrap(good.clone()).order(ByteOrder.LITTLE_ENDIAN);
        expectRefusal(f, b.putInt(28, 5).array(), "offset 28"); // heads 5 % kvHeads 2 != 0
        b = ByteBuffer.wrap(good.clone()).order(ByteOrder.LITTLE_ENDIAN);
        expectRefusal(f, b.putInt(44, 7).array(), "norm code 7");
        b = ByteBuffer.wrap(good.clone()).order(ByteOrder.LITTLE_ENDIAN);
        expectRefusal(f, b.putLong(52, 1L << 40).array(), "claims");
        expectRefusal(f, good, 68 + 4 * 100 + 2, (byte) (good[68 + 4 * 100 + 2] ^ 1), "CRC");
    }

    private void expectRefusal(Path f, byte[] good, int at, byte value, String message) throws IOException {
        byte[] bad = good.clone();
        bad[at] = value;
        expectRefusal(f, bad, message);
    }

    private void expectRefusal(Path f, byte[] bad, String message) throws IOException {
        Files.write(f, bad);
        float[] into = sentinel(ParamLayout.of(CFG).size());
        assertThatThrownBy(() -> GptCheckpoint.load(f, CFG, into)).isInstanceOf(IOException.class)
                .hasMessageContaining(message);
        assertThat(into).containsOnly(42f);
    }

    @Test
    void saveRefusesShortParams() {
        assertThatThrownBy(() -> GptCheckpoint.save(dir.resolve("x.bin"), CFG, new float[5]))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("params");
        assertThat(dir.resolve("x.bin")).doesNotExist();
    }
}
