package dev.lanes.tests;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanes.core.nn.Gpt;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.reflect.Constructor;
import java.lang.reflect.Executable;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.net.URISyntaxException;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The house rule on core's public API: no public method or constructor of a public class takes more
 * than {@value #MAX} parameters (a call site must be checkable by eye). Core bundles operands into
 * {@code AttentionView}s, configs and layer objects; the BLAS-style {@code (array, offset, ld)} signatures
 * belong to the kernels. Every class file of the core module is read from where the class loader found it
 * (a directory or the jar), so a new class cannot slip past.
 */
class PublicApiTest {
    static final int MAX = 12;

    @Test
    void noPublicMethodOfCoreTakesMoreThanTwelveParameters() throws Exception {
        List<String> classes = classNames(Gpt.class);
        assertThat(classes).as("core's classes").hasSizeGreaterThan(20);
        List<String> tooLong = new ArrayList<>();
        int checked = 0;
        for (String name : classes) {
            Class<?> c = Class.forName(name, false, Gpt.class.getClassLoader());
            if (!Modifier.isPublic(c.getModifiers())) {
                continue;
            }
            List<Executable> members = new ArrayList<>(List.of(c.getDeclaredMethods()));
            for (Constructor<?> k : c.getDeclaredConstructors()) {
                members.add(k);
            }
            for (Executable m : members) {
                if (!Modifier.isPublic(m.getModifiers()) || m.isSynthetic() || (m instanceof Method mm && mm.isBridge())) {
                    continue;
                }
                checked++;
                if (m.getParameterCount() > MAX) {
                    tooLong.add(c.getSimpleName() + "." + m.getName() + ": " + m.getParameterCount() + " parameters");
                }
            }
        }
        assertThat(checked).as("public methods checked").isGreaterThan(100);
        assertThat(tooLong).as("public methods of core with more than %d parameters", MAX).isEmpty();
    }

    /**
     * The suite runs twice: on the class path, and with lanes-kernels and lanes-core as named modules
     * (the Surefire execution module-path sets lanes.test.modulePath). This checks each run is what it
     * says: in the modular run the classes come from the modules their descriptors declare, and the
     * packages a user needs are exported.
     */
    @Test
    void eachRunSeesLanesAsItSays() {
        boolean modular = Boolean.getBoolean("lanes.test.modulePath");
        Module core = Gpt.class.getModule(), kernels = dev.lanes.kernels.Gemm.class.getModule();
        assertThat(core.isNamed()).as("core is a named module in the module-path run only").isEqualTo(modular);
        assertThat(kernels.isNamed()).as("kernels is a named module in the module-path run only").isEqualTo(modular);
        if (modular) {
            assertThat(core.getName()).isEqualTo("dev.lanes.core");
            assertThat(kernels.getName()).isEqualTo("dev.lanes.kernels");
            for (String p : List.of("dev.lanes.core", "dev.lanes.core.attention", "dev.lanes.core.nn", "dev.lanes.core.io",
                    "dev.lanes.core.text")) {
                assertThat(core.isExported(p)).as(p + " exported").isTrue();
            }
            assertThat(kernels.isExported("dev.lanes.kernels")).isTrue();
            assertThat(core.canRead(kernels)).isTrue();
            // The kernel-family interfaces, the tiles and the checks are core's only; the Vector API bodies no one's.
            assertThat(kernels.isExported("dev.lanes.kernels.internal")).as("internal exported to all").isFalse();
            assertThat(kernels.isExported("dev.lanes.kernels.internal", core)).as("internal exported to core").isTrue();
            assertThat(kernels.isExported("dev.lanes.kernels.simd", core)).as("simd exported").isFalse();
        }
    }

    /** Binary names of every class in the module (or class directory) that holds {@code anchor}. */
    private static List<String> classNames(Class<?> anchor) throws URISyntaxException, IOException {
        Path where = Path.of(anchor.getProtectionDomain().getCodeSource().getLocation().toURI());
        if (Files.isDirectory(where)) {
            return walk(where);
        }
        try (FileSystem jar = FileSystems.newFileSystem(where)) {
            return walk(jar.getPath("/"));
        }
    }

    private static List<String> walk(Path root) throws IOException {
        try (Stream<Path> files = Files.walk(root)) {
            return files.map(p -> root.relativize(p).toString().replace('\\', '/'))
                    .filter(p -> p.endsWith(".class") && !p.endsWith("module-info.class"))
                    .map(p -> p.substring(0, p.length() - ".class".length()).replace('/', '.'))
                    .toList();
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
    }
}
