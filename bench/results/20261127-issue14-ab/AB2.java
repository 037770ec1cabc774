import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Path;
/** Alternates (classes dir, N) cases round by round in one JVM; prints medians and per-round ratios to case 0. */
public class AB2 {
    public static void main(String[] args) throws Exception {
        String[] dirs = args[0].split(",");
        int[] ns = java.util.Arrays.stream(args[1].split(",")).mapToInt(Integer::parseInt).toArray();
        String tr = args[2];
        int[] ts = java.util.Arrays.stream(args[3].split(",")).mapToInt(Integer::parseInt).toArray();
        int rounds = Integer.parseInt(args[4]);
        int cases = dirs.length * ns.length * ts.length;
        Method[] gemm = new Method[dirs.length];
        Object[] tA = new Object[dirs.length], tB = new Object[dirs.length];
        Object[][] par = new Object[dirs.length][ts.length];
        for (int i = 0; i < dirs.length; i++) {
            ClassLoader cl = new URLClassLoader(new URL[] {Path.of(dirs[i]).toUri().toURL()}, AB2.class.getClassLoader());
            Class<?> g = Class.forName("dev.lanes.kernels.Gemm", true, cl);
            Class<?> t = Class.forName("dev.lanes.kernels.Transpose", true, cl);
            Class<?> p = Class.forName("dev.lanes.kernels.Parallelism", true, cl);
            tA[i] = t.getField(tr.substring(0, 1)).get(null);
            tB[i] = t.getField(tr.substring(1, 2)).get(null);
            for (int x = 0; x < ts.length; x++) par[i][x] = p.getMethod("fixed", int.class).invoke(null, ts[x]);
            gemm[i] = g.getMethod("sgemm", p, t, t, int.class, int.class, int.class, float.class, float[].class, int.class, int.class,
                    float[].class, int.class, int.class, float.class, float[].class, int.class, int.class);
        }
        int max = java.util.Arrays.stream(ns).max().getAsInt();
        float[] a = new float[max * max], b = new float[max * max], c = new float[max * max];
        java.util.SplittableRandom r = new java.util.SplittableRandom(1);
        for (int i = 0; i < a.length; i++) { a[i] = (float) r.nextDouble(); b[i] = (float) r.nextDouble(); }
        double[][] g = new double[cases][rounds];
        for (int round = -4; round < rounds; round++) {
            for (int q = 0; q < cases; q++) {
                int cs = (round & 1) == 0 ? q : cases - 1 - q;
                int d = cs / (ns.length * ts.length), n = ns[cs / ts.length % ns.length], th = cs % ts.length;
                int reps = Math.max(1, (int) (4e9 / (2.0 * n * n * n)));
                long t0 = System.nanoTime();
                for (int k = 0; k < reps; k++) {
                    gemm[d].invoke(null, par[d][th], tA[d], tB[d], n, n, n, 1f, a, 0, n, b, 0, n, 0f, c, 0, n);
                }
                double v = 2.0 * n * n * n * reps / (System.nanoTime() - t0);
                if (round >= 0) g[cs][round] = v;
            }
        }
        for (int q = 0; q < cases; q++) {
            double[] v = g[q].clone(); java.util.Arrays.sort(v);
            double[] rr = new double[rounds];
            for (int x = 0; x < rounds; x++) rr[x] = g[q][x] / g[0][x];
            java.util.Arrays.sort(rr);
            System.out.printf("%-40s N=%d %s t=%d  med %6.1f max %6.1f GFLOP/s  vs case 0: med %.3f [%.3f..%.3f]%n",
                    dirs[q / (ns.length * ts.length)], ns[q / ts.length % ns.length], tr, ts[q % ts.length], v[rounds / 2], v[rounds - 1], rr[rounds / 2], rr[rounds / 4], rr[3 * rounds / 4]);
        }
        System.exit(0);
    }
}
