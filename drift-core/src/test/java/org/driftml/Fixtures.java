package org.driftml;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Test fixtures shared across the company's repositories: ../shared/fixtures, located by the one system property
 * {@code drift.fixtures} that the parent pom sets for Surefire. A missing fixture fails the test that needs it,
 * naming the path, so CI cannot pass without them.
 */
public final class Fixtures {
    private Fixtures() {}

    public static Path root() {
        String dir = System.getProperty("drift.fixtures");
        if (dir == null) {
            throw new IllegalStateException("system property drift.fixtures is not set: run tests through Maven,"
                    + " or pass -Ddrift.fixtures=PATH/TO/shared/fixtures");
        }
        Path root = Path.of(dir).normalize();
        if (!Files.isDirectory(root)) {
            throw new IllegalStateException("fixtures folder " + root + " does not exist: the repository expects"
                    + " shared/ beside it (../shared/fixtures)");
        }
        return root;
    }

    /** A file under the fixtures root, which must exist. */
    public static Path file(String relative) {
        Path p = root().resolve(relative);
        if (!Files.isRegularFile(p)) {
            throw new IllegalStateException("fixture " + p + " is missing");
        }
        return p;
    }

    /** The real Qwen2 tokenizer folder (tokenizer.json, vocab.json, merges.txt, tokenizer_config.json). */
    public static Path qwen2Tokenizer() {
        return file("qwen2-tokenizer/tokenizer.json").getParent();
    }
}
