import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A HiveServer2 JDBC client for the tests (the protocol the Databricks ODBC/JDBC drivers speak).
 *
 * <p>Run with the single-file source launcher and Spark's jars (they hold hive-jdbc):
 * {@code java -cp "<pyspark>/jars/*" JdbcProbe.java jdbc:hive2://127.0.0.1:PORT/default}.
 *
 * <p>stdin: a JSON array of requests {@code {"sql": "...", "params": [...]}}; the params
 * (strings, numbers, booleans, null) are bound in order to the {@code ?} markers of a
 * PreparedStatement. stdout: one JSON line per request, {@code {"columns": [{"name", "type"}],
 * "rows": [[values as strings or null]]}} or {@code {"error": "..."}}.
 */
public class JdbcProbe {
    public static void main(String[] args) throws Exception {
        String input = new String(System.in.readAllBytes(), "UTF-8");
        List<?> requests = (List<?>) new Reader(input).document();
        try (Connection connection = DriverManager.getConnection(args[0], "test", "")) {
            for (Object item : requests) {
                Map<?, ?> request = (Map<?, ?>) item;
                String line;
                try {
                    line = run(connection, (String) request.get("sql"), (List<?>) request.get("params"));
                } catch (Exception error) {
                    line = "{\"error\":" + quote(String.valueOf(error)) + "}";
                }
                System.out.println(line);
                System.out.flush();
            }
        }
    }

    static String run(Connection connection, String sql, List<?> params) throws Exception {
        try (PreparedStatement statement = connection.prepareStatement(sql)) {
            int index = 1;
            for (Object value : params == null ? List.of() : params) {
                if (value == null) {
                    statement.setNull(index, java.sql.Types.VARCHAR);
                } else if (value instanceof String) {
                    statement.setString(index, (String) value);
                } else if (value instanceof Long) {
                    long number = (Long) value;
                    if (number == (int) number) {
                        statement.setInt(index, (int) number);
                    } else {
                        statement.setLong(index, number);
                    }
                } else if (value instanceof Double) {
                    statement.setDouble(index, (Double) value);
                } else if (value instanceof Boolean) {
                    statement.setBoolean(index, (Boolean) value);
                } else {
                    throw new IllegalArgumentException("cannot bind " + value);
                }
                index++;
            }
            if (!statement.execute()) {
                return "{\"columns\":[],\"rows\":[]}";
            }
            try (ResultSet result = statement.getResultSet()) {
                ResultSetMetaData meta = result.getMetaData();
                StringBuilder out = new StringBuilder("{\"columns\":[");
                for (int i = 1; i <= meta.getColumnCount(); i++) {
                    out.append(i > 1 ? "," : "")
                            .append("{\"name\":").append(quote(meta.getColumnLabel(i)))
                            .append(",\"type\":").append(quote(meta.getColumnTypeName(i)))
                            .append("}");
                }
                out.append("],\"rows\":[");
                for (boolean first = true; result.next(); first = false) {
                    out.append(first ? "[" : ",[");
                    for (int i = 1; i <= meta.getColumnCount(); i++) {
                        String value = result.getString(i);
                        out.append(i > 1 ? "," : "").append(value == null ? "null" : quote(value));
                    }
                    out.append("]");
                }
                return out.append("]}").toString();
            }
        }
    }

    static String quote(String text) {
        StringBuilder out = new StringBuilder("\"");
        for (char c : text.toCharArray()) {
            switch (c) {
                case '"': out.append("\\\""); break;
                case '\\': out.append("\\\\"); break;
                case '\n': out.append("\\n"); break;
                case '\r': out.append("\\r"); break;
                case '\t': out.append("\\t"); break;
                default:
                    if (c < 0x20) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
            }
        }
        return out.append('"').toString();
    }

    /** Just enough JSON: objects, arrays, strings, numbers (Long or Double), true, false, null. */
    static final class Reader {
        private final String text;
        private int pos;

        Reader(String text) {
            this.text = text;
        }

        Object document() {
            Object value = value();
            skipSpace();
            if (pos != text.length()) {
                throw error("trailing characters");
            }
            return value;
        }

        private Object value() {
            skipSpace();
            if (pos >= text.length()) {
                throw error("unexpected end");
            }
            char c = text.charAt(pos);
            if (c == '{') {
                Map<String, Object> object = new LinkedHashMap<>();
                pos++;
                if (!consume('}')) {
                    do {
                        skipSpace();
                        String key = string();
                        expect(':');
                        object.put(key, value());
                    } while (consume(','));
                    expect('}');
                }
                return object;
            }
            if (c == '[') {
                List<Object> array = new ArrayList<>();
                pos++;
                if (!consume(']')) {
                    do {
                        array.add(value());
                    } while (consume(','));
                    expect(']');
                }
                return array;
            }
            if (c == '"') {
                return string();
            }
            for (String word : new String[] {"true", "false", "null"}) {
                if (text.startsWith(word, pos)) {
                    pos += word.length();
                    return word.equals("null") ? null : Boolean.valueOf(word);
                }
            }
            int start = pos;
            while (pos < text.length() && "+-0123456789.eE".indexOf(text.charAt(pos)) >= 0) {
                pos++;
            }
            String number = text.substring(start, pos);
            if (number.isEmpty()) {
                throw error("unexpected character");
            }
            return number.matches("-?\\d+") ? (Object) Long.valueOf(number) : Double.valueOf(number);
        }

        private String string() {
            expect('"');
            StringBuilder out = new StringBuilder();
            while (true) {
                if (pos >= text.length()) {
                    throw error("unterminated string");
                }
                char c = text.charAt(pos++);
                if (c == '"') {
                    return out.toString();
                }
                if (c != '\\') {
                    out.append(c);
                    continue;
                }
                char escape = text.charAt(pos++);
                switch (escape) {
                    case 'n': out.append('\n'); break;
                    case 'r': out.append('\r'); break;
                    case 't': out.append('\t'); break;
                    case 'b': out.append('\b'); break;
                    case 'f': out.append('\f'); break;
                    case 'u':
                        out.append((char) Integer.parseInt(text.substring(pos, pos + 4), 16));
                        pos += 4;
                        break;
                    default: out.append(escape); // \" \\ \/
                }
            }
        }

        private void skipSpace() {
            while (pos < text.length() && Character.isWhitespace(text.charAt(pos))) {
                pos++;
            }
        }

        private boolean consume(char c) {
            skipSpace();
            if (pos < text.length() && text.charAt(pos) == c) {
                pos++;
                return true;
            }
            return false;
        }

        private void expect(char c) {
            if (!consume(c)) {
                throw error("expected '" + c + "'");
            }
        }

        private IllegalArgumentException error(String what) {
            return new IllegalArgumentException("JSON: " + what + " at offset " + pos);
        }
    }
}
