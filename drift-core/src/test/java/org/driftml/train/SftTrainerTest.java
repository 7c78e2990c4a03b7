package org.driftml.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.driftml.output.Progress;
import org.driftml.kernels.StepScope;
import org.driftml.model.internal.Decoder;
import org.junit.jupiter.api.Test;

class SftTrainerTest {
    /** Sixteen random prompts with their chosen completions. */
    static List<SftTrainer.Example> examples() {
        List<SftTrainer.Example> examples = new ArrayList<>();
        for (PairTokenizer.TokenizedPair p : DpoTrainerTest.pairs(16, 3)) {
            examples.add(new SftTrainer.Example(p.prompt(), p.chosen()));
        }
        return examples;
    }

    @Test
    void completionNllFallsAndTheFirstLossIsTheModelsOwn() throws Exception {
        try (StepScope scope = StepScope.open()) {
            Decoder policy = DpoTrainerTest.policy();
            List<SftTrainer.Example> examples = examples();
            // The first step's loss is the untrained model's mean completion NLL over its batch (the lr is 0 at
            // step 0 of the warm-up): near ln(vocab) = ln 256 for a random model.
            List<Map<String, Double>> steps;
            try (SftTrainer sft = new SftTrainer(policy, 3e-3, 4, 8, 0, 1)) {
                steps = sft.train(examples, Progress.SILENT);
            }
            assertEquals(32, steps.size());
            assertEquals(Math.log(256), steps.get(0).get("loss"), 0.3);
            double first = steps.subList(0, 4).stream().mapToDouble(m -> m.get("loss")).average().orElseThrow();
            double last = steps.subList(28, 32).stream().mapToDouble(m -> m.get("loss")).average().orElseThrow();
            assertTrue(last < first - 1.0, "loss " + first + " -> " + last);
        }
    }

    /** With LoRA adapters on the policy, SFT trains them (dropout on) and leaves the base as it was. */
    @Test
    void underLoraTheAdaptersLearnAndTheBaseStays() throws Exception {
        try (StepScope scope = StepScope.open()) {
            Decoder policy = DpoTrainerTest.policy();
            Decoder base = DpoTrainerTest.policy();
            policy.attach(org.driftml.model.internal.LoraAdapters.create(policy,
                    new org.driftml.model.spec.LoraConfig(8, 16, 0.1, List.of("all-linear"), false), 1));
            List<SftTrainer.Example> examples = examples();
            List<Map<String, Double>> steps;
            try (SftTrainer sft = new SftTrainer(policy, 1e-2, 4, 8, 0, 1)) {
                steps = sft.train(examples, Progress.SILENT);
            }
            double first = steps.subList(0, 4).stream().mapToDouble(m -> m.get("loss")).average().orElseThrow();
            double last = steps.subList(28, 32).stream().mapToDouble(m -> m.get("loss")).average().orElseThrow();
            // Epochs 1 and 8 see the same 16 examples in batches of 4, so untrained their mean losses would be equal.
            assertTrue(last < first - 0.1, "loss " + first + " -> " + last);
            for (String name : base.weights().keySet()) {
                assertTrue(org.bytedeco.pytorch.global.torch.equal(base.weights().get(name),
                        policy.weights().get(name)), name + " is frozen");
            }
        }
    }
}
