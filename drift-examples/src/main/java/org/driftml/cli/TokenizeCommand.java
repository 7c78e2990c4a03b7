package org.driftml.cli;

import java.io.InputStream;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.driftml.text.Tokenizer;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code drift tokenize}: text to token ids, as Hugging Face tokenizers gives them. */
@Command(name = "tokenize", mixinStandardHelpOptions = true,
        description = {"Token ids of text, one JSON object per line on stdin and stdout:",
                "  in  {\"text\": \"Hello\"}", "  out {\"ids\": [9707]}",
                "No special tokens are added unless --add-special-tokens (none for Qwen2 either way)."})
final class TokenizeCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--tokenizer", required = true, paramLabel = "DIR",
            description = "Folder with tokenizer.json, or vocab.json + merges.txt + tokenizer_config.json")
    Path tokenizer;

    @Option(names = "--add-special-tokens", description = "Add the tokenizer's own special tokens")
    boolean addSpecialTokens;

    InputStream input = System.in;

    @Override
    public Integer call() throws Exception {
        try (Tokenizer tok = Tokenizer.load(tokenizer)) {
            int failed = JsonLines.run(input, spec.commandLine().getOut(), spec.commandLine().getErr(), (in, json) -> {
                if (!in.path("text").isTextual()) {
                    throw new JsonLines.BadLine("\"text\" must be a string");
                }
                long[] ids = tok.encode(in.get("text").asText(), addSpecialTokens);
                return json.createObjectNode().set("ids", json.valueToTree(ids));
            });
            return failed == 0 ? 0 : 1;
        }
    }
}
