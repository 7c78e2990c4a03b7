package org.driftml.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.driftml.report.StepMetrics;
import org.driftml.data.PreferencePair;
import org.driftml.kernels.StepScope;
import org.driftml.model.Policy;
import org.driftml.model.spec.Precision;
import org.driftml.model.Sampler;
import org.driftml.text.ChatMessage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The one-call API: load a Policy, train it on your own pairs, generate, score, save. */
class PolicyDpoTest {
    static Path model() throws Exception {
        return Path.of(PolicyDpoTest.class.getResource("/parity/tiny-qwen2-chat").toURI());
    }

    static final List<PreferencePair> PAIRS = List.of(
            PreferencePair.conversational(List.of(ChatMessage.user("2+2?")), "4", "5"),
            PreferencePair.conversational(List.of(ChatMessage.user("3*3?")), "9", "6"),
            PreferencePair.conversational(List.of(ChatMessage.user("Capital of France?")), "Paris", "Lyon"),
            PreferencePair.conversational(List.of(ChatMessage.user("Colour of the sky?")), "Blue", "Green"));

    /** Six passes over the four pairs, one batch each; without RPO the first loss is ln 2 (policy = reference). */
    static DpoConfig config() {
        return DpoConfig.iteration().withLearningRate(2e-4).withBeta(0.1, 0.0).withBatch(4, 2).withEpochs(6);
    }

    @ParameterizedTest
    @EnumSource(Precision.class)
    void trainTrainsThePolicyInOneCall(Precision precision) throws Exception {
        try (Policy policy = Policy.load(model(), precision);
                StepScope scope = StepScope.open()) {
            Tensor before = policy.decoder().weights().get("model.norm.weight").detach().clone();
            List<StepMetrics> steps = DpoTrainer.train(policy, PAIRS, config());
            assertEquals(6, steps.size());
            // The reference is the policy once its masters are set (in BF16 from the folder's fp32 weights).
            assertEquals(Math.log(2), steps.get(0).get("loss"), 1e-6);
            assertTrue(steps.get(5).get("loss") < steps.get(0).get("loss") - 0.01, "the loss fell: " + steps);
            assertTrue(steps.get(5).get("rewards/margins") > 0, "the chosen replies gained: " + steps.get(5));
            assertFalse(torch.equal(before, policy.decoder().weights().get("model.norm.weight")), "weights moved");
            // A second call starts from where the first ended: its reference is the trained policy.
            List<StepMetrics> again = DpoTrainer.train(policy, PAIRS, config());
            assertEquals(Math.log(2), again.get(0).get("loss"), 1e-6);
        }
    }

    @Test
    void generateContinuesConversationsAsTheSamplerDoes() throws Exception {
        try (Policy policy = Policy.load(model(), Precision.FP32)) {
            List<List<ChatMessage>> chats = List.of(List.of(ChatMessage.user("2+2?")), List.of(ChatMessage.user("hi")));
            Sampler.Settings greedy = Sampler.Settings.greedy(6, policy.endIds());
            List<String> replies = policy.generate(chats, greedy);
            assertEquals(2, replies.size());
            assertEquals(policy.sample(List.of(policy.encodeChat(chats.get(0)), policy.encodeChat(chats.get(1))),
                    greedy), replies);
            var e = assertThrows(IllegalArgumentException.class, () -> policy.generate(List.of(List.of()), greedy));
            assertTrue(e.getMessage().startsWith("conversations[0]"), e.getMessage());
            var none = assertThrows(IllegalArgumentException.class, () -> DpoTrainer.train(policy, List.of(), config()));
            assertTrue(none.getMessage().startsWith("pairs"), none.getMessage());
        }
    }

    /** score() sums the same per-token log-probs the sampler reports for the tokens it chose (another code path). */
    @Test
    void scoreIsTheSumOfTheReplysTokenLogprobs() throws Exception {
        try (Policy policy = Policy.load(model(), Precision.FP32)) {
            List<ChatMessage> chat = List.of(ChatMessage.user("2+2?"));
            Sampler.Generation g = new Sampler(policy.decoder(), policy.padId())
                    .generate(List.of(policy.encodeChat(chat)), Sampler.Settings.greedy(6, java.util.Set.of())).get(0);
            String reply = policy.tokenizer().decode(g.outputIds(), false);
            org.junit.jupiter.api.Assertions.assertArrayEquals(g.outputIds(), policy.tokenizer().encode(reply, false),
                    "the fixture's reply re-encodes to its own tokens, so both sides score the same ones");
            double sum = 0;
            for (float lp : g.logprobs()) {
                sum += lp;
            }
            assertEquals(sum, policy.score(chat, reply), 1e-4 * Math.abs(sum));
            assertThrows(IllegalArgumentException.class, () -> policy.score(chat, ""));
        }
    }

    @Test
    void aSavedPolicyLoadsWithTheTrainedWeights(@TempDir Path dir) throws Exception {
        try (Policy policy = Policy.load(model(), Precision.FP32);
                StepScope scope = StepScope.open()) {
            DpoTrainer.train(policy, PAIRS, config());
            policy.save(dir);
            try (Policy again = Policy.load(dir, Precision.FP32)) {
                policy.decoder().weights().forEach((name, w) ->
                        assertTrue(torch.equal(w, again.decoder().weights().get(name)), name));
                assertEquals(policy.endIds(), again.endIds());
            }
        }
    }
}
