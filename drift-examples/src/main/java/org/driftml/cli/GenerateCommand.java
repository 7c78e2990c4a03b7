package org.driftml.cli;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.InputStream;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import org.driftml.model.spec.ComputeDevice;
import org.driftml.model.GenerationDefaults;
import org.driftml.model.spec.ModelConfig;
import org.driftml.model.spec.Precision;
import org.driftml.model.Sampler;
import org.driftml.model.Policy;
import org.driftml.text.ChatTemplate;
import org.driftml.text.Tokenizer;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code drift generate}: continue prompts or chat conversations with a model. */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = {"Generate a continuation per line of JSON on stdin:",
                "  in  {\"input_ids\": [...]}  or  {\"messages\": [{\"role\": \"user\", \"content\": \"...\"}]}",
                "  out {\"output_ids\": [...], \"text\": \"...\", \"logprobs\": [...], \"finish_reason\": \"stop\"|\"length\"}",
                "Messages go through the model's chat template with the generation prompt. Sampling settings",
                "default to the model's generation_config.json, as in transformers; flags override them.",
                "Generation stops at the model's eos ids and <|im_end|>."})
final class GenerateCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "DIR", description = "Hugging Face model folder")
    Path model;

    @Option(names = "--tokenizer", paramLabel = "DIR", description = "Tokenizer folder (default: the model folder)")
    Path tokenizerDir;

    @Option(names = "--max-new-tokens", required = true, paramLabel = "N", description = "Tokens to generate at most")
    int maxNewTokens;

    @Option(names = "--greedy", description = "Pick the most likely token (no sampling)")
    boolean greedy;

    @Option(names = "--temperature", paramLabel = "T", description = "Sampling temperature (implies sampling)")
    Double temperature;

    @Option(names = "--top-p", paramLabel = "P", description = "Nucleus sampling mass (implies sampling)")
    Double topP;

    @Option(names = "--top-k", paramLabel = "K", description = "Keep the K most likely tokens (0: all)")
    Integer topK;

    @Option(names = "--repetition-penalty", paramLabel = "R", description = "transformers' repetition penalty")
    Double repetitionPenalty;

    @Option(names = "--seed", defaultValue = "0", paramLabel = "S", description = "Sampling seed (default: 0)")
    long seed;

    @Option(names = "--dtype", defaultValue = "float32", paramLabel = "float32|bfloat16",
            description = "Compute dtype (default: ${DEFAULT-VALUE})")
    String dtype;

    @Mixin
    DeviceOption device = new DeviceOption();

    @Mixin
    AdapterOption adapter = new AdapterOption();

    InputStream input = System.in;

    Sampler.Settings settings(GenerationDefaults d, Set<Long> stops) {
        return d.settings(greedy, temperature, topP, topK, repetitionPenalty, maxNewTokens, stops, seed);
    }

    @Override
    public Integer call() throws Exception {
        PrintWriter err = spec.commandLine().getErr();
        ComputeDevice on = device.resolve(err, "drift generate");
        if (on == null) {
            return 2;
        }
        // Settings are checked against the model's config and generation_config.json before the weights load.
        ModelConfig config;
        GenerationDefaults defaults;
        Precision precision;
        try {
            precision = Precision.DTYPE.parse(dtype);
            config = ModelConfig.read(model.resolve("config.json"));
            defaults = GenerationDefaults.read(model, config);
            if (maxNewTokens > config.maxPositionEmbeddings()) {
                throw new IllegalArgumentException("--max-new-tokens " + maxNewTokens + " is more than the model's "
                        + config.maxPositionEmbeddings() + " positions (max_position_embeddings in " + model + ")");
            }
            settings(defaults, Set.of());
        } catch (IllegalArgumentException e) {
            err.println("drift generate: " + SettingOptions.message(e));
            err.flush();
            return 2;
        }
        Policy policy = Policy.loadWeights(model, precision, on);
        if (!adapter.attach(policy, err, "drift generate")) {
            return 2;
        }
        Path tokDir = tokenizerDir != null ? tokenizerDir : model;
        boolean hasTokenizer = Files.exists(tokDir.resolve("tokenizer.json")) || Files.exists(tokDir.resolve("vocab.json"));
        Tokenizer tokenizer = hasTokenizer ? Tokenizer.load(tokDir) : null;
        ChatTemplate template = hasTokenizer && Files.exists(tokDir.resolve("tokenizer_config.json"))
                ? loadTemplate(tokDir) : null;
        Set<Long> stops = new HashSet<>(defaults.eosTokenIds());
        if (tokenizer != null) {
            tokenizer.tokenId("<|im_end|>").ifPresent(stops::add);
        }
        Sampler.Settings settings = settings(defaults, stops);
        long vocab = policy.config().vocabSize();
        int positions = policy.config().maxPositionEmbeddings();
        // A chat prompt longer in bytes than this cannot fit the positions (0: not known for this tokenizer).
        long mostBytes = tokenizer == null ? 0 : (long) positions * tokenizer.maxBytesPerToken().orElse(0);
        int failed = JsonLines.run(input, spec.commandLine().getOut(), spec.commandLine().getErr(), (in, json) -> {
            long[] prompt;
            if (in.has("input_ids")) {
                prompt = JsonLines.ids(in, "input_ids", vocab, positions - 1);
            } else if (in.has("messages")) {
                if (template == null) {
                    throw new JsonLines.BadLine("\"messages\" needs a tokenizer with a chat template in " + tokDir);
                }
                String rendered = template.renderConversation(messages(in.get("messages")), null, true);
                // Refused before tokenising when it cannot fit: tokenising a megabyte takes seconds and hundreds of MB.
                long bytes = rendered.getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
                if (mostBytes > 0 && bytes > mostBytes) {
                    throw new JsonLines.BadLine("the prompt is " + bytes + " bytes, more than the model's " + positions
                            + " positions can hold (a token covers " + mostBytes / positions + " bytes at most)");
                }
                prompt = tokenizer.encode(rendered);
                for (int i = 0; i < prompt.length; i++) {
                    if (prompt[i] >= vocab) {
                        throw new JsonLines.BadLine("the tokenizer produced id " + prompt[i]
                                + ", outside the model's vocabulary of " + vocab);
                    }
                }
            } else {
                throw new JsonLines.BadLine("expected \"input_ids\" or \"messages\"");
            }
            if (prompt.length == 0) {
                throw new JsonLines.BadLine("the prompt is empty");
            }
            if (prompt.length >= positions) {
                throw new JsonLines.BadLine("the prompt has " + prompt.length + " tokens, leaving no room in the "
                        + "model's " + positions + " positions (max_position_embeddings)");
            }
            // Generation stops at the model's last position ("length"), whatever --max-new-tokens asks.
            Sampler.Settings line = settings.withMaxNewTokens(Math.min(settings.maxNewTokens(),
                    positions - prompt.length));
            Sampler.Generation g = policy.generateIds(List.of(prompt), line).get(0);
            ObjectNode out = json.createObjectNode();
            out.set("output_ids", json.valueToTree(g.outputIds()));
            if (tokenizer != null) {
                out.put("text", tokenizer.decode(g.outputIds(), true));
            }
            out.set("logprobs", json.valueToTree(g.logprobs()));
            out.put("finish_reason", g.stopped() ? "stop" : "length");
            return out;
        });
        if (tokenizer != null) {
            tokenizer.close();
        }
        return failed == 0 ? 0 : 1;
    }

    private static ChatTemplate loadTemplate(Path dir) {
        try {
            return ChatTemplate.load(dir);
        } catch (java.io.IOException e) {
            return null;  // no template: "messages" lines are answered with an error saying so
        }
    }

    private static List<Map<String, Object>> messages(JsonNode node) {
        if (!node.isArray()) {
            throw new JsonLines.BadLine("\"messages\" must be a list of {\"role\", \"content\"} objects");
        }
        for (int i = 0; i < node.size(); i++) {
            JsonNode m = node.get(i);
            if (!m.path("role").isTextual() || !m.path("content").isTextual()) {
                throw new JsonLines.BadLine("messages[" + i + "] needs string \"role\" and \"content\"");
            }
            if (!Set.of("system", "user", "assistant", "tool").contains(m.get("role").asText())) {
                // Chat templates skip a role they do not know: the model would answer a prompt without it.
                throw new JsonLines.BadLine("messages[" + i + "]: unknown role \"" + m.get("role").asText()
                        + "\" (expected system, user, assistant or tool)");
            }
        }
        try {
            return JsonLines.JSON.convertValue(node, new TypeReference<>() {});
        } catch (IllegalArgumentException e) {
            throw new JsonLines.BadLine("messages: " + e.getMessage());
        }
    }
}
