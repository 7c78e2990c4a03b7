package org.driftml.quickstart;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.driftml.drift.FeedbackPrompt;
import org.driftml.model.RandomWeights;

/**
 * The simulated deployment's model before any training: a small Qwen2 (the real architecture, tied embeddings)
 * with its own byte-level BPE tokenizer and a ChatML template without a default system prompt. The tokenizer has
 * the 256 byte symbols, {@code <|endoftext|>}, {@code <|im_start|>}, {@code <|im_end|>}, and merges that make each
 * word of the world's fixed phrases one token ("Give", " word", " letters", the improvement instruction's words).
 * Measured: that cuts a task prompt from about 80 tokens to about 25. Replies stay spelled letter by letter: no
 * merge applies to a lowercase word without a leading space, which is how a reply is pre-tokenised. Written as a Hugging Face folder (config, generation config, vocab.json, merges.txt,
 * tokenizer_config.json, seeded random safetensors) that drift and transformers load.
 */
final class WorldModel {
    static final String CHAT_TEMPLATE = "{%- for message in messages %}{{- '<|im_start|>' + message['role'] + '\\n'"
            + " + message['content'] + '<|im_end|>' + '\\n' }}{%- endfor %}{%- if add_generation_prompt %}"
            + "{{- '<|im_start|>assistant\\n' }}{%- endif %}";

    /** The model size; the quickstart uses DEFAULT (about 0.2M parameters besides the embeddings). */
    record Size(int hidden, int layers, int heads, int kvHeads, int intermediate) {
        static final Size DEFAULT = new Size(96, 2, 4, 2, 256);
    }

    private WorldModel() {}

    static Path write(Path folder, Size size, long seed) throws IOException {
        Files.createDirectories(folder);
        ObjectMapper json = new ObjectMapper();
        ObjectNode config = json.createObjectNode();
        config.putArray("architectures").add("Qwen2ForCausalLM");
        // Ids as transformers assigns them: bytes, then merged tokens, then the special tokens after the vocabulary.
        Merges merges = Merges.of(PHRASES);
        int firstSpecial = 256 + merges.tokens().size();
        int pad = firstSpecial, imEnd = firstSpecial + 2;
        config.put("model_type", "qwen2").put("vocab_size", firstSpecial + 3).put("hidden_size", size.hidden())
                .put("intermediate_size", size.intermediate()).put("num_hidden_layers", size.layers())
                .put("num_attention_heads", size.heads()).put("num_key_value_heads", size.kvHeads())
                .put("max_position_embeddings", 1024).put("rms_norm_eps", 1e-6).put("rope_theta", 10000.0)
                .put("tie_word_embeddings", true).put("hidden_act", "silu").put("eos_token_id", imEnd)
                .put("pad_token_id", pad).put("initializer_range", 0.02).put("torch_dtype", "float32");
        json.writerWithDefaultPrettyPrinter().writeValue(folder.resolve("config.json").toFile(), config);
        ObjectNode generation = json.createObjectNode().put("eos_token_id", imEnd).put("pad_token_id", pad)
                .put("do_sample", false);
        json.writerWithDefaultPrettyPrinter().writeValue(folder.resolve("generation_config.json").toFile(), generation);

        ObjectNode vocab = json.createObjectNode();
        int[] order = byteSymbols();
        for (int b = 0; b < 256; b++) {
            vocab.put(new String(Character.toChars(order[b])), b);
        }
        for (int i = 0; i < merges.tokens().size(); i++) {
            vocab.put(merges.tokens().get(i), 256 + i);
        }
        json.writeValue(folder.resolve("vocab.json").toFile(), vocab);
        Files.writeString(folder.resolve("merges.txt"), "#version: 0.2\n" + String.join("\n", merges.rules()) + "\n");
        ObjectNode tok = json.createObjectNode();
        tok.put("tokenizer_class", "Qwen2Tokenizer").put("eos_token", "<|im_end|>").put("pad_token", "<|endoftext|>")
                .put("add_prefix_space", false).put("model_max_length", 1024).put("chat_template", CHAT_TEMPLATE);
        ObjectNode added = tok.putObject("added_tokens_decoder");
        String[] specials = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};
        for (int i = 0; i < specials.length; i++) {
            added.putObject(String.valueOf(firstSpecial + i)).put("content", specials[i]).put("special", true)
                    .put("lstrip", false).put("rstrip", false).put("normalized", false).put("single_word", false);
        }
        json.writerWithDefaultPrettyPrinter().writeValue(folder.resolve("tokenizer_config.json").toFile(), tok);
        RandomWeights.write(folder, seed, 0.02);
        return folder;
    }

    /** The world's fixed wording: task and complaint templates, the users' thanks, the improvement instruction. */
    static final List<String> PHRASES = List.of("Give me a word that starts with and ends with and has letters.",
            "No, it should start with. That does not start with. Wrong first letter, I need.",
            "No, it should end with. That does not end with. Wrong last letter, I need.",
            "That has letters, I asked for. No, it needs letters. Wrong length, I need letters. That is not one word.",
            "Thanks, that works! Perfect, thank you. Great, thanks.", FeedbackPrompt.INSTRUCTION);

    /** BPE merges building every word of the phrases (capitalised, or after a space) from its letters. */
    record Merges(List<String> tokens, List<String> rules) {
        static Merges of(List<String> phrases) {
            Set<String> pieces = new LinkedHashSet<>();
            for (String phrase : phrases) {
                Matcher m = Pattern.compile("( ?)([A-Za-z]+)").matcher(phrase);
                while (m.find()) {
                    String word = m.group(2);
                    boolean spaced = !m.group(1).isEmpty();
                    if (word.length() >= 2 && (spaced || Character.isUpperCase(word.charAt(0)))) {
                        pieces.add((spaced ? "\u0120" : "") + word);  // U+0120 is the byte-level symbol of a space
                    }
                }
            }
            List<String> tokens = new ArrayList<>(), rules = new ArrayList<>();
            Set<String> known = new LinkedHashSet<>();
            for (String piece : pieces) {
                String built = piece.substring(0, 1);
                for (int i = 1; i < piece.length(); i++) {
                    String next = built + piece.charAt(i);
                    if (known.add(next)) {
                        tokens.add(next);
                        rules.add(built + " " + piece.charAt(i));
                    }
                    built = next;
                }
            }
            return new Merges(tokens, rules);
        }
    }

    /** GPT-2's bytes_to_unicode: printable bytes stand for themselves, the rest map to 256 and up, in byte order. */
    static int[] byteSymbols() {
        int[] out = new int[256];
        int next = 256;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            out[b] = printable ? b : next++;
        }
        return out;
    }
}
