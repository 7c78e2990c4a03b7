package org.driftml.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Path;
import java.util.List;
import org.driftml.output.Progress;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Typed metrics inside, TRL's names and metrics.jsonl's key order only where they are written and read back. */
class StepMetricsTest {
    private static StepMetrics step(double allreduce, double allgather) {
        return StepMetrics.beforeUpdate(new double[] {0.69, 0.01, -0.02, 0.03, 0.75, -40.5, -42.25}, 0.125, 2,
                allreduce).updated(3, 1.5, 5e-7, allgather).at(3, 1.5);
    }

    @Test
    void trlNamesInMetricsJsonlOrderAndBackAgain(@TempDir Path dir) throws Exception {
        StepMetrics one = step(Double.NaN, Double.NaN);
        assertEquals(List.of("loss", "rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies",
                "logps/chosen", "logps/rejected", "padding_fraction", "micro_batches", "grad_norm", "learning_rate",
                "step", "epoch"), List.copyOf(one.trl().keySet()), "one process: no timings");
        StepMetrics sharded = step(0.25, 0.5);
        assertEquals(List.of("loss", "rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies",
                "logps/chosen", "logps/rejected", "padding_fraction", "allreduce_seconds", "micro_batches",
                "allgather_seconds", "grad_norm", "learning_rate", "step", "epoch"),
                List.copyOf(sharded.trl().keySet()));
        assertEquals(0.03, sharded.get("rewards/margins"));
        assertEquals(sharded.margin(), sharded.get("rewards/margins"));
        assertThrows(IllegalArgumentException.class, () -> one.get("allreduce_seconds"));

        TrainingLog log = new TrainingLog(dir.resolve("metrics.jsonl"), Progress.SILENT, 3);
        log.record(one);
        log.record(sharded);
        assertEquals(List.of(one, sharded), log.read(), "written under TRL's names, read back the same");
    }
}
