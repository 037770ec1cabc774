package dev.lanes.tests.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * Safetensors files written byte by byte, independently of {@code Safetensors.write}, so that tests can
 * build valid files of any dtype and every kind of broken one.
 */
public final class StFiles {
    private StFiles() {}

    /** A file's two parts: the header text and the data section. */
    public record Parts(String header, byte[] data) {}

    /** 8-byte little-endian length of {@code header}'s UTF-8 bytes, the header, then {@code data}. */
    public static void write(Path file, String header, byte[] data) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        write(file, h.length, h, data);
    }

    /** The same with any length field (which may lie). */
    public static void write(Path file, long lengthField, byte[] header, byte[] data) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(8 + header.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(lengthField).put(header).put(data);
        Files.write(file, b.array());
    }

    /** Splits a well-formed file (header length honest) into its header text and data. */
    public static Parts read(Path file) throws IOException {
        byte[] all = Files.readAllBytes(file);
        int n = (int) ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        return new Parts(new String(all, 8, n, StandardCharsets.UTF_8), Arrays.copyOfRange(all, 8 + n, all.length));
    }

    /** Little-endian bytes of 16-bit values (F16, BF16 bit patterns). */
    public static byte[] shorts(int... v) {
        ByteBuffer b = ByteBuffer.allocate(2 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (int x : v) {
            b.putShort((short) x);
        }
        return b.array();
    }

    public static byte[] floats(float... v) {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float x : v) {
            b.putFloat(x);
        }
        return b.array();
    }

    public static byte[] concat(byte[]... parts) {
        int n = 0;
        for (byte[] p : parts) {
            n += p.length;
        }
        ByteBuffer b = ByteBuffer.allocate(n);
        for (byte[] p : parts) {
            b.put(p);
        }
        return b.array();
    }
}
