package org.driftml.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import org.driftml.model.Policy;
import picocli.CommandLine.Option;

/** {@code --adapter DIR}: a PEFT LoRA adapter folder put on the loaded model (generate, logprobs). */
final class AdapterOption {
    @Option(names = "--adapter", paramLabel = "DIR",
            description = "A PEFT LoRA adapter folder (adapter_config.json, adapter_model.safetensors) for --model")
    Path adapter;

    /**
     * Attaches the adapter to {@code policy} if one was given; false after telling {@code err} why it cannot be
     * read (exit 2), naming the option.
     */
    boolean attach(Policy policy, PrintWriter err, String command) throws IOException {
        if (adapter == null) {
            return true;
        }
        try {
            policy.loadAdapters(adapter);
            return true;
        } catch (IllegalArgumentException e) {
            err.println(command + ": --adapter: " + e.getMessage());
            err.flush();
            return false;
        }
    }
}
