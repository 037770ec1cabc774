package dev.lanes.tests.text;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanes.core.text.Gpt2Tokenizer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * GPT-2's byte-level BPE on a vocabulary and merges made by hand, whose encodings are worked out by
 * hand in the comments, plus the byte map's documented characters and GPT-2's pre-tokenizer.
 */
class Gpt2TokenizerTest {
    @TempDir
    Path dir;

    /** Symbols and merges of the hand-made tokenizer; ids are the positions in SYMBOLS. */
    static final String[] SYMBOLS = {"h", "e", "l", "o", "Ġ", "w", "r", "d", "!", "he", "ll", "hell", "hello", "Ġw", "or",
        "Ġwor", "a", "b", "c", "bc", "ab", "aa"};
    static final String[][] MERGES = {{"h", "e"}, {"l", "l"}, {"he", "ll"}, {"hell", "o"}, {"Ġ", "w"}, {"o", "r"},
        {"Ġw", "or"}, {"b", "c"}, {"a", "b"}, {"a", "a"}};

    static Map<String, Integer> vocab() {
        Map<String, Integer> v = new LinkedHashMap<>();
        for (int i = 0; i < SYMBOLS.length; i++) {
            v.put(SYMBOLS[i], i);
        }
        return v;
    }

    static Gpt2Tokenizer handMade() {
        return new Gpt2Tokenizer(vocab(), List.of(MERGES));
    }

    @Test
    void encodesAsWorkedOutByHand() {
        Gpt2Tokenizer t = handMade();
        // "hello" -> h e l l o -> (h e)=0: he l l o -> (l l)=1: he ll o -> (he ll)=2: hell o -> (hell o)=3: hello
        // " world" -> Ġ w o r l d -> (Ġ w)=4: Ġw o r l d -> (o r)=5: Ġw or l d -> (Ġw or)=6: Ġwor l d
        // "!" -> !
        assertThat(t.encode("hello world!")).containsExactly(12, 15, 2, 7, 8);
        // the lowest rank wins, not the leftmost pair: (b c)=7 before (a b)=8 -> a bc
        assertThat(t.encode("abc")).containsExactly(16, 19);
        // every occurrence of the chosen pair, left to right, without overlap: aa aa a
        assertThat(t.encode("aaaaa")).containsExactly(21, 21, 16);
        // (h e), then (l l), then (he ll): hell
        assertThat(t.encode("hell")).containsExactly(11);
        assertThat(t.encode("")).isEmpty();
        assertThat(t.decode(new int[] {12, 15, 2, 7, 8})).isEqualTo("hello world!");
        assertThat(t.decode(new int[] {9, 10, 3}, 1, 2)).isEqualTo("llo");
        assertThatThrownBy(() -> t.encode("z")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("symbol 'z' of piece 'z' is not in the vocabulary");
        assertThatThrownBy(() -> t.decode(new int[] {22})).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("token id 22 is not in the vocabulary");
    }

    @Test
    void readsVocabJsonMergesTxtAndTokenizerJson() throws IOException {
        StringBuilder v = new StringBuilder("{");
        for (int i = 0; i < SYMBOLS.length; i++) {
            v.append(i > 0 ? ", " : "").append('"').append(SYMBOLS[i]).append("\": ").append(i);
        }
        v.append('}');
        StringBuilder m = new StringBuilder("#version: 0.2\n");
        StringBuilder asStrings = new StringBuilder(), asPairs = new StringBuilder();
        for (String[] p : MERGES) {
            m.append(p[0]).append(' ').append(p[1]).append('\n');
            asStrings.append(asStrings.length() > 0 ? "," : "").append("\"").append(p[0]).append(' ').append(p[1]).append('"');
            asPairs.append(asPairs.length() > 0 ? "," : "").append("[\"").append(p[0]).append("\",\"").append(p[1]).append("\"]");
        }
        Files.writeString(dir.resolve("vocab.json"), v, StandardCharsets.UTF_8);
        Files.writeString(dir.resolve("merges.txt"), m, StandardCharsets.UTF_8);
        int[] want = {12, 15, 2, 7, 8};
        assertThat(Gpt2Tokenizer.load(dir).encode("hello world!")).containsExactly(want);
        assertThat(Gpt2Tokenizer.load(dir.resolve("vocab.json")).encode("hello world!")).containsExactly(want);
        for (String merges : new String[] {asStrings.toString(), asPairs.toString()}) {
            Path tj = dir.resolve("tokenizer.json");
            Files.writeString(tj, "{\"version\": \"1.0\", \"model\": {\"type\": \"BPE\", \"vocab\": " + v + ", \"merges\": [" + merges
                    + "]}}", StandardCharsets.UTF_8);
            assertThat(Gpt2Tokenizer.load(tj).encode("hello world!")).containsExactly(want);
            assertThat(Gpt2Tokenizer.load(dir).encode("abc")).containsExactly(16, 19);  // tokenizer.json preferred
        }
        Files.writeString(dir.resolve("merges.txt"), "#version: 0.2\nh e\nl  l\n");
        assertThatThrownBy(() -> Gpt2Tokenizer.fromVocabAndMerges(dir.resolve("vocab.json"), dir.resolve("merges.txt")))
                .isInstanceOf(IOException.class).hasMessageContaining("merges.txt: line 3 is 'l  l'");
        Files.writeString(dir.resolve("tokenizer.json"), "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {}}}");
        assertThatThrownBy(() -> Gpt2Tokenizer.load(dir)).isInstanceOf(IOException.class)
                .hasMessageContaining("model type is WordPiece, expected BPE");
    }

    @Test
    void theByteMapMatchesGpt2sDocumentedCharacters() {
        Map<String, Integer> v = new HashMap<>();
        // space -> U+0120, newline -> U+010A, tab -> U+0109, NUL -> U+0100, DEL -> U+0121, byte 0xAD -> U+0143;
        // '!', 0xC3, 0xA9 and 0xC2 print as themselves
        String[] symbols = {"\u0120", "\u010a", "\u0109", "\u0100", "\u0121", "\u0143", "!", "\u00c3", "\u00a9", "\u00c2"};
        for (int i = 0; i < symbols.length; i++) {
            v.put(symbols[i], i);
        }
        Gpt2Tokenizer t = new Gpt2Tokenizer(v, List.of());
        // pieces: " " "\n" "\t" (whitespace runs split by the lookahead rule), then "\0\u007f\u00ad!" as one
        // "other" piece whose UTF-8 is 00 7F C2 AD 21; 'é' is C3 A9, two symbols that print as themselves
        assertThat(t.encode(" \n\t")).containsExactly(0, 1, 2);
        assertThat(t.encode("\0\u007f\u00ad!")).containsExactly(3, 4, 9, 5, 6);
        assertThat(t.encode("\u00e9")).containsExactly(7, 8);
        assertThat(t.decode(new int[] {7, 8, 0, 3})).isEqualTo("\u00e9 \0");
    }

    @Test
    void allBytesRoundTrip() {
        Gpt2Tokenizer t = fullByteTokenizer();
        Random r = new Random(7);
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < 2000; i++) {
            int cp = switch (r.nextInt(4)) {
                case 0 -> r.nextInt(128);
                case 1 -> 0x80 + r.nextInt(0x780);
                case 2 -> 0x4e00 + r.nextInt(500);
                default -> 0x1f600 + r.nextInt(50);
            };
            s.appendCodePoint(cp);
        }
        int[] ids = t.encode(s.toString());
        assertThat(ids).hasSize(s.toString().getBytes(StandardCharsets.UTF_8).length);  // no merges: one id per byte
        assertThat(t.decode(ids)).isEqualTo(s.toString());
        // a lone continuation byte is not UTF-8: it decodes to the replacement character
        assertThat(t.decode(new int[] {0x80})).isEqualTo("\ufffd");  // fullByteTokenizer gives byte b the id b
    }

    @Test
    void preTokenizerFollowsGpt2() {
        assertThat(Gpt2Tokenizer.pieces("I'm  here\n")).containsExactly("I", "'m", " ", " here", "\n");
        assertThat(Gpt2Tokenizer.pieces("Hello, world! 123 4")).containsExactly("Hello", ",", " world", "!", " 123", " 4");
        assertThat(Gpt2Tokenizer.pieces("they'll've")).containsExactly("they", "'ll", "'ve");
        assertThat(Gpt2Tokenizer.pieces("x\t\ty")).containsExactly("x", "\t", "\t", "y");
        assertThat(Gpt2Tokenizer.pieces(" caf\u00e9 \u00a0x")).containsExactly(" caf\u00e9", " ", "\u00a0", "x");
        assertThat(Gpt2Tokenizer.pieces("a  ")).containsExactly("a", "  ");
    }

    @Test
    void theFixtureTokenizerMergesByRank() throws IOException {
        Path dir;
        try {
            dir = Path.of(getClass().getResource("/golden/gpt2/vocab.json").toURI()).getParent();
        } catch (java.net.URISyntaxException e) {
            throw new IllegalStateException(e);
        }
        Gpt2Tokenizer t = Gpt2Tokenizer.load(dir);
        assertThat(t.vocabSize()).isEqualTo(80);
        // ids: Ġ 0, Ċ 1, a..z 2..27, A..Z 28..53, digits 54..63, ".,!?'-" 64..69, then th 70, Ġt 71, Ġth 72, er 73, ...
        // " the" -> Ġ t h e: (t h) has rank 0, (Ġ t) rank 1 -> Ġ th e; (Ġ th) is no merge ((Ġt h) is) -> 0 70 6
        assertThat(t.encode(" the")).containsExactly(0, 70, 6);
        // "The" -> T h e: no merge applies -> 47 9 6;  " in" -> Ġ i n: (i n)=4 -> Ġ in -> 0 74
        assertThat(t.encode("The in")).containsExactly(47, 9, 6, 0, 74);
    }

    /** GPT-2's byte map written out again from its definition, for a vocabulary of all 256 bytes. */
    static Gpt2Tokenizer fullByteTokenizer() {
        Map<String, Integer> v = new HashMap<>();
        int extra = 0;
        for (int b = 0; b < 256; b++) {
            boolean self = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
            v.put(String.valueOf((char) (self ? b : 256 + extra++)), b);
        }
        return new Gpt2Tokenizer(v, List.of());
    }
}
