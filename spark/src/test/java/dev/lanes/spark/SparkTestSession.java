package dev.lanes.spark;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;

/** The one way tests start Spark: UI off, driver on 127.0.0.1, scratch under target/, few shuffle partitions. */
final class SparkTestSession {
    private SparkTestSession() {}

    static SparkSession start(String master) {
        Path scratch = Path.of("target", "spark-tmp").toAbsolutePath();
        try {
            Files.createDirectories(scratch); // also java.io.tmpdir of the test JVM (spark/pom.xml)
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return SparkSession.builder()
                .master(master)
                .appName("lanes-spark-test")
                .config("spark.ui.enabled", "false")
                .config("spark.driver.bindAddress", "127.0.0.1")
                .config("spark.driver.host", "127.0.0.1")
                .config("spark.local.dir", scratch.toString())
                .config("spark.sql.warehouse.dir", scratch.resolve("warehouse").toString())
                .config("spark.sql.shuffle.partitions", "4")
                .config("spark.ui.showConsoleProgress", "false")
                .getOrCreate();
    }

    static JavaSparkContext context(SparkSession s) {
        return JavaSparkContext.fromSparkContext(s.sparkContext());
    }
}
