package dev.lanes.kernels.internal;

/** The attention tile family behind {@link AttentionTiles}; see there for the shapes. */
public interface AttentionTileKernel {
    void gemm(int m, int n, int k, float[] a, int aOff, int aRs, int aCs, float[] b, int bOff, int ldb,
              boolean accumulate, float[] colScale, int csOff, float[] c, int cOff, int ldc);

    void softmaxOnline(int n, int m, float[] s, int sOff, int lds, int rowBase, float[] limit, int limOff,
                       float[] bias, int[] biasIdx, int biasIdxOff, float[] max, float[] sum, float[] alpha,
                       int statOff);

    void softmaxOnlineRows(int m, int n, float[] s, int sOff, int lds, int colBase, float[] limit, int limOff,
                           float[] bias, int[] biasIdx, int biasIdxOff, float[] max, float[] sum, float[] alpha,
                           int statOff);

    void backwardScoresRows(int m, int n, float scale, float[] s, int sOff, int lds, float[] dp, int dpOff, int lddp,
                            int colBase, float[] limit, int limOff, float[] bias, int[] biasIdx, int biasIdxOff,
                            float[] lse, int lseOff, float[] dr, int drOff);

    void backwardScoresColumns(int n, int m, float scale, float[] s, int sOff, int lds, float[] p, int pOff, int ldp,
                               float[] dp, int dpOff, int lddp, int rowBase, float[] limit, int limOff,
                               float[] bias, int[] biasIdx, int biasIdxOff, float[] lse, int lseOff,
                               float[] dr, int drOff);
}
