package dev.lanes.spark;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class GradientTreeTest {

    private static float[][] leaves(int m, int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[][] g = new float[m][n];
        for (float[] row : g) {
            for (int i = 0; i < n; i++) {
                row[i] = (float) (r.nextGaussian() * Math.exp(4 * r.nextGaussian())); // wide magnitudes: order matters
            }
        }
        return g;
    }

    @Test
    void coverTilesTheRangeWithTreeNodes() {
        for (int m = 1; m <= 13; m++) {
            for (int from = 0; from < m; from++) {
                for (int to = from + 1; to <= m; to++) {
                    int next = from;
                    for (int[] node : GradientTree.cover(m, from, to)) {
                        assertThat(node[0]).isEqualTo(next);
                        next = node[1];
                    }
                    assertThat(next).isEqualTo(to);
                }
            }
        }
        assertThat(GradientTree.cover(8, 0, 8)).singleElement().satisfies(n -> assertThat(n).containsExactly(0, 8));
        assertThat(GradientTree.cover(8, 2, 6)).extracting(n -> n[0] + ":" + n[1]).containsExactly("2:4", "4:6");
    }

    @Test
    void anyContiguousPartitioningRebuildsTheSameBits() {
        for (int m : new int[] {1, 2, 3, 5, 6, 8, 11}) {
            float[][] g = leaves(m, 37, m);
            float[] whole = GradientTree.sum(i -> g[i], 0, m);
            // close to the exact sum (the tree is a real sum) ...
            for (int j = 0; j < 37; j++) {
                double exact = 0, mag = 0;
                for (float[] row : g) {
                    exact += row[j];
                    mag += Math.abs(row[j]);
                }
                assertThat((double) whole[j]).isCloseTo(exact, org.assertj.core.data.Offset.offset(1e-6 * mag + 1e-30));
            }
            // ... and bit for bit the same from any cut into 1..m contiguous partitions
            for (int parts = 1; parts <= m; parts++) {
                Map<Long, float[]> nodes = new HashMap<>();
                for (int p = 0; p < parts; p++) {
                    int from = p * m / parts, to = (p + 1) * m / parts;
                    for (int[] n : GradientTree.cover(m, from, to)) {
                        nodes.put(GradientTree.key(n[0], n[1]), GradientTree.sum(i -> g[i], n[0], n[1]));
                    }
                }
                assertThat(GradientTree.combine(m, nodes)).as("m=%d parts=%d", m, parts).containsExactly(whole);
            }
        }
    }

    @Test
    void mergeRoundsFromAnyPartitioningReachTheRootWithTheSameBits() {
        for (int m : new int[] {1, 3, 6, 8, 11}) {
            float[][] g = leaves(m, 5, 100 + m);
            float[] whole = GradientTree.sum(i -> g[i], 0, m);
            for (int parts = 1; parts <= m; parts++) {
                Map<Long, float[]> nodes = new HashMap<>();
                for (int p = 0; p < parts; p++) {
                    for (int[] n : GradientTree.cover(m, p * m / parts, (p + 1) * m / parts)) {
                        nodes.put(GradientTree.key(n[0], n[1]), GradientTree.sum(i -> g[i], n[0], n[1]));
                    }
                }
                int rounds = 0;
                while (nodes.size() > 1) {
                    Map<Long, Long> to = GradientTree.mergeRound(m, nodes.keySet());
                    Map<Long, float[]> next = new HashMap<>();
                    // the right sibling first: the addition must not care
                    nodes.entrySet().stream().sorted((a, b) -> Long.compare(b.getKey(), a.getKey()))
                            .forEach(e -> next.merge(to.get(e.getKey()), e.getValue(), GradientTree::add));
                    assertThat(next.size()).as("a round merges something").isLessThan(nodes.size());
                    nodes = next;
                    rounds++;
                }
                assertThat(nodes).containsOnlyKeys(GradientTree.key(0, m));
                assertThat(nodes.get(GradientTree.key(0, m))).as("m=%d parts=%d", m, parts).containsExactly(whole);
                assertThat(rounds).isLessThanOrEqualTo(32 - Integer.numberOfLeadingZeros(Math.max(1, m - 1)));
            }
        }
        assertThatThrownBy(() -> GradientTree.mergeRound(6, java.util.Set.of(GradientTree.key(1, 3))))
                .hasMessageContaining("[1, 3) is not a node");
    }

    @Test
    void theTreeOrderIsNotTheSequentialOrder() {
        // guards the test above against a tree that is secretly a left fold: then any order would agree
        float[][] g = {{1e8f}, {1f}, {-1e8f}, {1f}};
        float[] tree = GradientTree.sum(i -> g[i], 0, 4);   // (1e8 + 1) + (-1e8 + 1) = 0 in float
        float fold = ((g[0][0] + g[1][0]) + g[2][0]) + g[3][0]; // 1
        assertThat(tree[0]).isEqualTo(0f);
        assertThat(fold).isEqualTo(1f);
    }

    @Test
    void aMissingMicroBatchIsNamed() {
        Map<Long, float[]> nodes = new HashMap<>();
        nodes.put(GradientTree.key(0, 2), new float[1]);
        nodes.put(GradientTree.key(3, 4), new float[1]);
        assertThatThrownBy(() -> GradientTree.combine(4, nodes)).hasMessageContaining("micro-batch 2");
        assertThatThrownBy(() -> GradientTree.cover(4, 3, 3)).hasMessageContaining("[3, 3)");
    }
}
