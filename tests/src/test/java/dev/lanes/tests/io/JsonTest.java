package dev.lanes.tests.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanes.core.io.Json;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The strict JSON reader: RFC 8259 values decoded exactly, everything outside the grammar refused. */
class JsonTest {

    @Test
    void decodesEveryKindOfValue() {
        Object v = Json.parse(" {\"a\": [1, -0, 2.5, -1e-5, 1E+2, 9223372036854775807, 9223372036854775808],"
                + " \"s\": \"q\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\u0120\", \"t\": true, \"f\": false, \"n\": null,"
                + " \"o\": {}, \"e\": []}\n");
        @SuppressWarnings("unchecked")
        Map<String, Object> m = (Map<String, Object>) v;
        assertThat(m.keySet()).containsExactly("a", "s", "t", "f", "n", "o", "e");
        assertThat(m.get("a")).isEqualTo(List.of(1L, 0L, 2.5, -1e-5, 100.0, Long.MAX_VALUE, 9.223372036854775808E18));
        assertThat(m.get("s")).isEqualTo("q\"\\/\b\f\n\r\t\u00e9\ud83d\ude00\u0120");
        assertThat(m.get("t")).isEqualTo(true);
        assertThat(m.get("f")).isEqualTo(false);
        assertThat(m.containsKey("n")).isTrue();
        assertThat(m.get("n")).isNull();
        assertThat((Map<?, ?>) m.get("o")).isEmpty();
        assertThat((List<?>) m.get("e")).isEmpty();
        assertThat(Json.parse("\"\"")).isEqualTo("");
        assertThat(Json.parse("0")).isEqualTo(0L);
    }

    @ParameterizedTest
    @ValueSource(strings = {"", " ", "{", "}", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "{'a':1}", "01", "+1", ".5", "1.",
            "1e", "-", "--1", "1 2", "{} x", "tru", "nul", "NaN", "Infinity", "\"\\x\"", "\"\\u12g4\"", "\"\\u12\"",
            "\"unterminated", "\"tab\there\"", "\"\\ud83d\"", "\"\\ude00x\"", "[1 2]", "{\"a\":1 \"b\":2}", "1e999",
            "/* c */ 1", "{\"a\":1,\"a\":2}", "\u00a01"})
    void refusesWhatTheGrammarDoesNot(String text) {
        assertThatThrownBy(() -> Json.parse(text)).as("%s", text).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("JSON error at offset");
    }

    @Test
    void errorsNameLineAndColumn() {
        assertThatThrownBy(() -> Json.parse("{\n  \"a\": 1,\n  \"a\": 2\n}")).hasMessageContaining("offset 14 (line 3, column 3)")
                .hasMessageContaining("duplicate key \"a\"");
    }

    @Test
    void nestingIsBounded() {
        char[] open = new char[Json.MAX_DEPTH], close = new char[Json.MAX_DEPTH];
        Arrays.fill(open, '[');
        Arrays.fill(close, ']');
        assertThat(Json.parse(new String(open) + new String(close))).isInstanceOf(List.class);
        assertThatThrownBy(() -> Json.parse("[" + new String(open) + new String(close) + "]"))
                .hasMessageContaining("nesting deeper than " + Json.MAX_DEPTH);
    }

    @Test
    void quoteRoundTrips() {
        String s = "a\"b\\c\n\r\t\u0001\u001f\u00e9\ud83d\ude00/";
        assertThat(Json.quote(s)).isEqualTo("\"a\\\"b\\\\c\\n\\r\\t\\u0001\\u001f\u00e9\ud83d\ude00/\"");
        assertThat(Json.parse(Json.quote(s))).isEqualTo(s);
    }

    @Test
    void parseObjectRefusesOtherValues() {
        assertThatThrownBy(() -> Json.parseObject("[]")).hasMessageContaining("top-level value is array, expected an object");
        assertThat(Json.parseObject("{\"k\":\"v\"}")).containsEntry("k", "v");
    }
}
