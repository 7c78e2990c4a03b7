package org.driftml.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainingPlotsTest {
    /** Pixels of exactly this colour: the series' lines (anti-aliasing blends only their edges). */
    static long pixels(BufferedImage img, int rgb) {
        long n = 0;
        for (int y = 0; y < img.getHeight(); y++) {
            for (int x = 0; x < img.getWidth(); x++) {
                n += (img.getRGB(x, y) & 0xffffff) == rgb ? 1 : 0;
            }
        }
        return n;
    }

    @Test
    void theLossAndRewardPlotsDrawEachSeries(@TempDir Path dir) throws Exception {
        List<Map<String, Double>> log = List.of(
                Map.of("loss", 0.69, "rewards/chosen", 0.0, "rewards/rejected", 0.0, "rewards/margins", 0.0),
                Map.of("loss", 0.60, "rewards/chosen", 0.1, "rewards/rejected", -0.1, "rewards/margins", 0.2),
                Map.of("loss", 0.52, "rewards/chosen", 0.2, "rewards/rejected", -0.3, "rewards/margins", 0.5));
        TrainingPlots.write(log, dir);
        BufferedImage loss = ImageIO.read(dir.resolve("loss.png").toFile());
        assertEquals(720, loss.getWidth());
        assertEquals(420, loss.getHeight());
        assertTrue(pixels(loss, 0x1f77b4) > 100, "the loss line is drawn");
        BufferedImage rewards = ImageIO.read(dir.resolve("rewards.png").toFile());
        for (int rgb : new int[] {0x1f77b4, 0xd62728, 0x2ca02c}) {
            assertTrue(pixels(rewards, rgb) > 50, "series colour " + Integer.toHexString(rgb));
        }
    }

    @Test
    void namedPointsGetErrorBarsFromTheirMinAndMax(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("spread.png");
        List<Map<String, Double>> points = List.of(Map.of("drift", 0.4, "drift min", 0.3, "drift max", 0.5),
                Map.of("drift", 0.45, "drift min", 0.40, "drift max", 0.52));
        TrainingPlots.lines(points, List.of("drift"), List.of("base", "iteration 1"), "gold reward", file);
        BufferedImage img = ImageIO.read(file.toFile());
        assertEquals(720, img.getWidth());
        assertTrue(pixels(img, 0x1f77b4) > 100);
    }
}
