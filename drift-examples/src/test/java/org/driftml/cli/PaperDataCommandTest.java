package org.driftml.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The paper's two data settings from their files to trained stages: the DRIFT release's files (WildFeedback) and
 * UltraFeedback records (Table 3), each through mine, warm start and one iteration of DRIFT, SPIN and IterDPO. Each
 * method's kept side (Sec. 4.1) is held against the input files, byte for byte.
 */
class PaperDataCommandTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    // Replies with what a careless reader would change: non-ASCII, escapes, surrounding and inner whitespace.
    private static final String REJECTED_1 = "Sydney.  “Obviously” — naïve\tcafé\n";
    private static final String REJECTED_2 = "  42\\n is \"the\" answer 😀";
    private static final String SAT_1 = "Canberra is the capital.\n\nIt was chosen in 1908.";
    private static final String SAT_2 = "Paris — the “City of Light”.";

    private static String message(String role, String content) throws Exception {
        return "{\"role\": " + JSON.writeValueAsString(role) + ", \"content\": " + JSON.writeValueAsString(content)
                + "}";
    }

    /** The release's files as RELEASE-FACTS describes them; SAT and seeds in shapes TRL reads. */
    private static Path releaseData(Path dir) throws Exception {
        Path data = dir.resolve("data");
        Files.createDirectories(data.resolve("seed-data"));
        Files.write(data.resolve("dsat_data.jsonl"), List.of(
                "{\"prompt\": [" + message("system", "Be brief.") + ", " + message("user", "Capital of Australia?")
                        + "], \"rejected\": [" + message("assistant", REJECTED_1) + "], \"user_preference\": "
                        + message("user", "No, that's wrong.") + "}",
                "{\"prompt\": [" + message("user", "What is 6 x 7?") + "], \"rejected\": ["
                        + message("assistant", REJECTED_2) + "], \"user_preference\": "
                        + message("user", "Just the number, please.") + "}"));
        Files.write(data.resolve("sat_data.jsonl"), List.of(
                "{\"prompt\": [" + message("user", "Capital of Australia?") + "], \"chosen\": ["
                        + message("assistant", SAT_1) + "]}",
                "{\"messages\": [" + message("user", "Capital of France?") + ", " + message("assistant", SAT_2)
                        + "]}"));
        Files.write(data.resolve("seed-data/train.jsonl"), List.of(
                "{\"prompt\": [" + message("user", "Capital of Australia?") + "], \"chosen\": ["
                        + message("assistant", "Canberra.") + "], \"rejected\": [" + message("assistant", "Sydney.")
                        + "]}"));
        return data;
    }

    private static List<JsonNode> records(Path file) throws Exception {
        List<JsonNode> out = new ArrayList<>();
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            if (!line.isBlank()) {
                out.add(JSON.readTree(line));
            }
        }
        return out;
    }

    private static String reply(JsonNode side) {
        return side.isArray() ? side.get(side.size() - 1).get("content").asText() : side.asText();
    }

    private static void assertSameBytes(String expected, String actual, String what) {
        assertArrayEquals(expected.getBytes(StandardCharsets.UTF_8), actual.getBytes(StandardCharsets.UTF_8), what);
    }

    private static CliRun train(Path mined, Path out, String... more) {
        List<String> a = new ArrayList<>(List.of(DriftCommandsTest.args("train", mined, out, "--iterations", "1")));
        a.addAll(List.of(more));
        return CliRun.of("", a.toArray(String[]::new));
    }

    @Test
    void theReleasesFilesTrainDriftSpinAndIterDpo(@TempDir Path dir) throws Exception {
        Path data = releaseData(dir), mined = dir.resolve("mined");
        CliRun mine = CliRun.of("", "mine", "--format", "release", "--dsat", data.resolve("dsat_data.jsonl").toString(),
                "--sat", data.resolve("sat_data.jsonl").toString(), "--seeds",
                data.resolve("seed-data/train.jsonl").toString(), "--output", mined.toString());
        assertEquals(0, mine.code(), mine.err());
        assertTrue(mine.out().contains("DSAT items                              2"), mine.out());
        assertTrue(mine.out().contains("satisfying replies                      2"), mine.out());
        assertTrue(mine.out().contains("seed pairs                              1"), mine.out());
        // The release's data/ folder as it is gives the same mined files.
        CliRun folder = CliRun.of("", "mine", "--format", "release", "--logs", data.toString(), "--output",
                dir.resolve("mined-folder").toString());
        assertEquals(0, folder.code(), folder.err());
        for (String f : List.of("dsat.jsonl", "seeds.jsonl", "satisfying.jsonl")) {
            assertEquals(Files.readString(mined.resolve(f)), Files.readString(dir.resolve("mined-folder").resolve(f)),
                    f);
        }

        List<JsonNode> dsat = records(data.resolve("dsat_data.jsonl"));
        // mine -> warmstart -> train: train continues from the warm start on the same output.
        CliRun warm = CliRun.of("", DriftCommandsTest.args("warmstart", mined, dir.resolve("drift")));
        assertEquals(0, warm.code(), warm.err());
        assertTrue(Files.exists(dir.resolve("drift/warmstart/summary.json")));
        byte[] warmModel = Files.readAllBytes(dir.resolve("drift/warmstart/model.safetensors"));
        CliRun drift = train(mined, dir.resolve("drift"), "--method", "drift");
        assertEquals(0, drift.code(), drift.err());
        assertArrayEquals(warmModel, Files.readAllBytes(dir.resolve("drift/warmstart/model.safetensors")),
                "train reused the warm start");
        // The warm start trains on the seed pair as given (what the mined folder holds).
        JsonNode seed = records(mined.resolve("seeds.jsonl")).get(0);
        assertSameBytes("Canberra.", reply(seed.get("chosen")), "seed chosen");
        assertSameBytes("Sydney.", reply(seed.get("rejected")), "seed rejected");
        // DRIFT: y- is the reply the user disliked, as the release's file holds it; x is its prompt.
        List<JsonNode> pairs = records(dir.resolve("drift/iteration-1/pairs.jsonl"));
        assertEquals(2, pairs.size(), "both DSAT items give a pair (a sample equal to y- would be dropped)");
        for (int i = 0; i < pairs.size(); i++) {
            assertSameBytes(reply(dsat.get(i).get("rejected")), reply(pairs.get(i).get("rejected")), "rejected " + i);
            assertEquals(dsat.get(i).get("prompt"), pairs.get(i).get("prompt"), "prompt " + i);
        }

        CliRun spin = train(mined, dir.resolve("spin"), "--method", "spin");
        assertEquals(0, spin.code(), spin.err());
        List<JsonNode> spinPairs = records(dir.resolve("spin/iteration-1/pairs.jsonl"));
        assertEquals(2, spinPairs.size());
        assertSameBytes(SAT_1, reply(spinPairs.get(0).get("chosen")), "SPIN's y+ from sat_data.jsonl");
        assertSameBytes(SAT_2, reply(spinPairs.get(1).get("chosen")), "SPIN's y+ from a messages record");

        CliRun iterdpo = train(mined, dir.resolve("iterdpo"), "--method", "iterdpo");
        assertEquals(0, iterdpo.code(), iterdpo.err());
        List<JsonNode> iterPairs = records(dir.resolve("iterdpo/iteration-1/pairs.jsonl"));
        for (JsonNode p : iterPairs) {  // both replies are samples: the prompt is what comes from the file
            assertTrue(p.get("prompt").equals(dsat.get(0).get("prompt")) || p.get("prompt").equals(
                    dsat.get(1).get("prompt")), p.toString());
        }
    }

    @Test
    void ultraFeedbackRecordsTrainDriftSpinAndIterDpo(@TempDir Path dir) throws Exception {
        Path uf = dir.resolve("uf.jsonl"), seeds = dir.resolve("seeds.jsonl"), mined = dir.resolve("mined");
        // ultrafeedback_binarized (prompt text, whole conversations), and one raw openbmb record whose completions
        // score by the mean of their ratings: (5+4+5+4)/4 = 4.5 and (2+1+2+N/A)/3 = 5/3, against overall_score.
        Files.write(uf, List.of(
                "{\"prompt\": \"Capital of Australia?\", \"prompt_id\": \"p1\", \"chosen\": ["
                        + message("user", "Capital of Australia?") + ", " + message("assistant", SAT_1)
                        + "], \"rejected\": [" + message("user", "Capital of Australia?") + ", "
                        + message("assistant", REJECTED_1) + "], \"score_chosen\": 9.0, \"score_rejected\": 2.0}",
                "{\"instruction\": \"What is 6 x 7?\", \"completions\": ["
                        + "{\"response\": " + JSON.writeValueAsString(REJECTED_2) + ", \"overall_score\": 9.0, "
                        + "\"annotations\": {\"helpfulness\": {\"Rating\": \"2\"}, \"honesty\": {\"Rating\": \"1\"}, "
                        + "\"instruction_following\": {\"Rating\": \"2\"}, \"truthfulness\": {\"Rating\": \"N/A\"}}}, "
                        + "{\"response\": " + JSON.writeValueAsString(SAT_2) + ", \"overall_score\": 1.0, "
                        + "\"annotations\": {\"helpfulness\": {\"Rating\": \"5\"}, \"honesty\": {\"Rating\": \"4\"}, "
                        + "\"instruction_following\": {\"Rating\": \"5\"}, \"truthfulness\": {\"Rating\": \"4\"}}}]}"));
        Files.write(seeds, List.of("{\"prompt\": [" + message("user", "Capital of Australia?") + "], \"chosen\": ["
                + message("assistant", "Canberra.") + "], \"rejected\": [" + message("assistant", "Sydney.") + "]}"));
        CliRun mine = CliRun.of("", "mine", "--format", "ultrafeedback", "--logs", uf.toString(), "--seeds",
                seeds.toString(), "--output", mined.toString());
        assertEquals(0, mine.code(), mine.err());
        assertTrue(mine.out().contains("preference records                      2"), mine.out());
        assertTrue(mine.out().contains("seed pairs                              1"), mine.out());
        String[][] kept = {{SAT_1, REJECTED_1}, {SAT_2, REJECTED_2}};  // {chosen, rejected} per record

        CliRun drift = train(mined, dir.resolve("drift"), "--setting", "ultrafeedback", "--method", "drift");
        assertEquals(0, drift.code(), drift.err());
        List<JsonNode> pairs = records(dir.resolve("drift/iteration-1/pairs.jsonl"));
        assertEquals(2, pairs.size());
        for (int i = 0; i < 2; i++) {  // DRIFT-UF keeps the original rejected; y+ is sampled from the prompt alone
            assertSameBytes(kept[i][1], reply(pairs.get(i).get("rejected")), "DRIFT-UF rejected " + i);
            assertEquals(1, pairs.get(i).get("prompt").size(), "the prompt alone: " + pairs.get(i));
        }

        CliRun spin = train(mined, dir.resolve("spin"), "--setting", "ultrafeedback", "--method", "spin");
        assertEquals(0, spin.code(), spin.err());
        List<JsonNode> spinPairs = records(dir.resolve("spin/iteration-1/pairs.jsonl"));
        assertEquals(2, spinPairs.size());
        for (int i = 0; i < 2; i++) {  // SPIN-UF keeps the original chosen
            assertSameBytes(kept[i][0], reply(spinPairs.get(i).get("chosen")), "SPIN-UF chosen " + i);
        }

        CliRun refused = train(mined, dir.resolve("iterdpo"), "--setting", "ultrafeedback", "--method", "iterdpo");
        assertEquals(2, refused.code());
        assertTrue(refused.err().contains("give --reward-model DIR"), refused.err());
        CliRun iterdpo = train(mined, dir.resolve("iterdpo"), "--setting", "ultrafeedback", "--method", "iterdpo",
                "--reward-model", CliRun.parity("tiny-deberta-v3-reward").toString());  // the paper's judge's kind
        assertEquals(0, iterdpo.code(), iterdpo.err());
        List<JsonNode> ranked = records(dir.resolve("iterdpo/iteration-1/pairs.jsonl"));
        assertTrue(!ranked.isEmpty(), "two samples a reward model tells apart give a pair");
        for (JsonNode p : ranked) {  // ranked by the reward model
            assertTrue(p.get("score_chosen").asDouble() > p.get("score_rejected").asDouble(), p.toString());
        }
    }
}
