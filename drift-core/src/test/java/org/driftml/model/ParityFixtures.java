package org.driftml.model;

import java.net.URISyntaxException;
import java.nio.file.Path;

/** The committed transformers fixtures (scripts/parity/make_model_fixtures.py) on the test classpath. */
public final class ParityFixtures {
    private ParityFixtures() {}

    public static Path folder(String name) {
        try {
            return Path.of(ParityFixtures.class.getResource("/parity/" + name).toURI());
        } catch (URISyntaxException | NullPointerException e) {
            throw new IllegalStateException("parity fixture " + name + " is missing from src/test/resources/parity", e);
        }
    }
}
