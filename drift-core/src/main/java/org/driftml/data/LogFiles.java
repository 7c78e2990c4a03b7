package org.driftml.data;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Array;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Struct;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.function.Consumer;
import org.driftml.data.internal.JsonLine;
import org.driftml.data.internal.Utf8Lines;

/**
 * Raw records of a chat-log file, whatever its format: JSON Lines ({@code .jsonl}), a JSON array or single object
 * ({@code .json}), or Parquet ({@code .parquet}, read by DuckDB's embedded engine). A folder means every such
 * file in it, in name order. A record that is not valid JSON becomes a {@link BadRecordException} for the caller's
 * policy; an unreadable file is an IOException naming it.
 */
final class LogFiles {
    static final ObjectMapper JSON = new ObjectMapper();

    private LogFiles() {}

    /** The log files a path stands for: itself, or the .jsonl/.json/.parquet files of a folder in name order. */
    public static List<Path> expand(Path path) throws IOException {
        if (!Files.isDirectory(path)) {
            if (!Files.isRegularFile(path)) {
                throw new IOException(path + ": no such file or folder");
            }
            return List.of(path);
        }
        try (var s = Files.list(path)) {
            return s.filter(p -> Files.isRegularFile(p) && format(p) != null).sorted().toList();
        }
    }

    /**
     * Every record of {@code path} read by {@code parse} (given the record and how many were kept before it), in
     * order; a bad record is handled by {@code policy} and counted.
     */
    static <T> List<T> parseEach(Path path, OnBadRecord policy, ReadReport report,
            java.util.function.BiFunction<LogRecord, Integer, T> parse) throws IOException {
        List<T> out = new java.util.ArrayList<>();
        read(path, policy, report, r -> {
            report.record();
            try {
                out.add(parse.apply(r, out.size()));
                report.kept(1);
            } catch (BadRecordException e) {
                report.onBad(e, policy);
            }
        });
        return out;
    }

    /** Reads every record of {@code path} (file or folder) in order. */
    public static void read(Path path, OnBadRecord policy, ReadReport report, Consumer<LogRecord> sink)
            throws IOException {
        for (Path file : expand(path)) {
            String format = format(file);
            if (format == null) {
                throw new IOException(file + ": unknown log format (expected .jsonl, .json or .parquet)");
            }
            switch (format) {
                case "jsonl" -> readJsonLines(file, policy, report, sink);
                case "json" -> readJson(file, sink);
                default -> readParquet(file, sink);
            }
        }
    }

    static String format(Path file) {
        String name = file.getFileName().toString().toLowerCase(java.util.Locale.ROOT);
        if (name.endsWith(".jsonl") || name.endsWith(".ndjson")) {
            return "jsonl";
        }
        if (name.endsWith(".json")) {
            return "json";
        }
        if (name.endsWith(".parquet")) {
            return "parquet";
        }
        return null;
    }

    private static void readJsonLines(Path file, OnBadRecord policy, ReadReport report, Consumer<LogRecord> sink)
            throws IOException {
        try (Utf8Lines lines = new Utf8Lines(Files.newInputStream(file))) {
            for (Utf8Lines.Line raw; (raw = lines.next()) != null;) {
                String where = file + ":line " + raw.number();
                JsonNode node;
                try {
                    String line = raw.text();
                    if (line.isBlank()) {
                        continue;
                    }
                    node = JsonLine.parse(line);
                } catch (IllegalArgumentException e) {  // not UTF-8, too long, or not one JSON value
                    report.record();
                    report.onBad(new BadRecordException(where, null, e.getMessage()), policy);
                    continue;
                }
                sink.accept(new LogRecord(where, node));
            }
        }
    }

    // A JSON file is parsed as one document (a syntax error is the file's, with its line), then each element of a
    // top-level array is one record named by the line it starts on.
    private static void readJson(Path file, Consumer<LogRecord> sink) throws IOException {
        try (JsonParser p = JSON.createParser(file.toFile())) {
            JsonToken first = p.nextToken();
            if (first == JsonToken.START_OBJECT) {
                sink.accept(new LogRecord(file + ":line 1", p.readValueAsTree()));
                return;
            }
            if (first != JsonToken.START_ARRAY) {
                throw new IOException(file + ": expected a JSON array of records or one record object");
            }
            int k = 0;
            while (p.nextToken() != JsonToken.END_ARRAY) {
                k++;
                long line = p.currentTokenLocation().getLineNr();
                JsonNode node = p.readValueAsTree();
                sink.accept(new LogRecord(file + ":line " + line + " (record " + k + ")", node));
            }
        } catch (JsonProcessingException e) {
            var at = e.getLocation();
            throw new IOException(file + (at != null ? ":line " + at.getLineNr() : "") + ": not valid JSON: "
                    + e.getOriginalMessage(), e);
        }
    }

    /**
     * An embedded, in-memory DuckDB that never downloads: extension auto-install and auto-load are off, so only
     * what the JDBC jar links statically (Parquet among it) is available, and a missing piece fails instead of
     * reaching for the network.
     */
    public static Connection duckdb() throws SQLException {
        Properties p = new Properties();
        p.setProperty("autoinstall_known_extensions", "false");
        p.setProperty("autoload_known_extensions", "false");
        return DriverManager.getConnection("jdbc:duckdb:", p);
    }

    static String sqlString(Path file) {
        return "'" + file.toAbsolutePath().toString().replace("'", "''") + "'";
    }

    private static void readParquet(Path file, Consumer<LogRecord> sink) throws IOException {
        try (Connection c = duckdb(); Statement st = c.createStatement()) {
            st.execute("SET preserve_insertion_order = true");
            try (ResultSet rs = st.executeQuery("SELECT * FROM read_parquet(" + sqlString(file) + ")")) {
                ResultSetMetaData md = rs.getMetaData();
                int row = 0;
                while (rs.next()) {
                    row++;
                    ObjectNode o = JSON.createObjectNode();
                    for (int i = 1; i <= md.getColumnCount(); i++) {
                        o.set(md.getColumnLabel(i), toJson(rs.getObject(i)));
                    }
                    sink.accept(new LogRecord(file + ":row " + row, o));
                }
            }
        } catch (SQLException e) {
            throw new IOException(file + ": cannot read as Parquet: " + e.getMessage(), e);
        }
    }

    private static JsonNode toJson(Object v) throws SQLException {
        JsonNodeFactory f = JsonNodeFactory.instance;
        if (v == null) {
            return f.nullNode();
        }
        if (v instanceof String s) {
            return f.textNode(s);
        }
        if (v instanceof Boolean b) {
            return f.booleanNode(b);
        }
        if (v instanceof Integer || v instanceof Long || v instanceof Short || v instanceof Byte) {
            return f.numberNode(((Number) v).longValue());
        }
        if (v instanceof BigInteger b) {
            return f.numberNode(b);
        }
        if (v instanceof BigDecimal b) {
            return f.numberNode(b);
        }
        if (v instanceof Number n) {
            return f.numberNode(n.doubleValue());
        }
        if (v instanceof Array a) {
            ArrayNode out = f.arrayNode();
            for (Object e : (Object[]) a.getArray()) {
                out.add(toJson(e));
            }
            return out;
        }
        if (v instanceof Struct s) {
            return structToJson(s);
        }
        if (v instanceof Map<?, ?> m) {
            ObjectNode out = f.objectNode();
            for (var e : m.entrySet()) {
                out.set(String.valueOf(e.getKey()), toJson(e.getValue()));
            }
            return out;
        }
        return f.textNode(v.toString());
    }

    private static JsonNode structToJson(Struct s) throws SQLException {
        // DuckDB's struct exposes its field names through getMap(); fall back to positional attributes.
        try {
            Object m = s.getClass().getMethod("getMap").invoke(s);
            if (m instanceof Map<?, ?> map) {
                return toJson(map);
            }
        } catch (ReflectiveOperationException ignored) {
            // not DuckDB's struct
        }
        ArrayNode out = JSON.createArrayNode();
        for (Object e : s.getAttributes()) {
            out.add(toJson(e));
        }
        return out;
    }
}
