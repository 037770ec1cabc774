package dev.lanes.core.io;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Files replaced whole: written to a temporary file in the target's directory, then moved over the
 * target, so a reader never sees half a file and a failed write leaves the old one. The temporary file
 * is created with the default permissions (the umask applies, as for any new file), unlike
 * {@link Files#createTempFile}, whose owner-only files would keep that mode after the move.
 */
public final class AtomicFiles {
    private AtomicFiles() {}

    /** A new empty file beside {@code target}, named after it, for {@link #commit}. */
    public static Path createTempBeside(Path target) throws IOException {
        Path dir = target.toAbsolutePath().getParent();
        for (int attempt = 0; ; attempt++) {
            Path tmp = dir.resolve("." + target.getFileName() + "." + Long.toHexString(ThreadLocalRandom.current().nextLong()) + ".tmp");
            try {
                return Files.createFile(tmp);
            } catch (FileAlreadyExistsException e) {
                if (attempt == 10) {
                    throw e;
                }
            }
        }
    }

    /** Moves a finished temporary file over {@code target}. */
    public static void commit(Path tmp, Path target) throws IOException {
        Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /** Replaces {@code target} by {@code text} in UTF-8. */
    public static void writeString(Path target, String text) throws IOException {
        Path tmp = createTempBeside(target);
        try {
            Files.writeString(tmp, text, StandardCharsets.UTF_8);
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
        commit(tmp, target);
    }
}
