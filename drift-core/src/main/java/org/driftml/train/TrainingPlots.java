package org.driftml.train;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;

/**
 * PNG line plots of training dynamics (the paper's figure of loss and chosen / rejected rewards over steps), drawn
 * with Java2D so nothing beyond the JDK is needed; headless.
 */
public final class TrainingPlots {
    static {
        System.setProperty("java.awt.headless", "true");
    }

    private static final Color[] COLORS = {new Color(0x1f77b4), new Color(0xd62728), new Color(0x2ca02c),
            new Color(0x7f7f7f)};

    private TrainingPlots() {}

    /** Writes {@code loss.png} and {@code rewards.png} into {@code folder}. */
    public static void write(List<Map<String, Double>> log, Path folder) throws IOException {
        plot(log, List.of("loss"), "DPO loss", folder.resolve("loss.png"));
        plot(log, List.of("rewards/chosen", "rewards/rejected", "rewards/margins"), "implicit rewards",
                folder.resolve("rewards.png"));
    }

    static void plot(List<Map<String, Double>> log, List<String> series, String title, Path file) throws IOException {
        lines(log, series, null, title, file);
    }

    /**
     * A line per series over the points in order. {@code xLabels} names each point (null: "step 1" .. "step N").
     * A point holding {@code "<series> min"} and {@code "<series> max"} gets an error bar between them (spread over
     * seeds, say).
     */
    public static void lines(List<Map<String, Double>> log, List<String> series, List<String> xLabels, String title,
            Path file) throws IOException {
        int w = 720, h = 420, left = 70, right = 20, top = 40, bottom = 50;
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, w, h);
        double min = Double.POSITIVE_INFINITY, max = Double.NEGATIVE_INFINITY;
        for (Map<String, Double> m : log) {
            for (String s : series) {
                for (String k : new String[] {s, s + " min", s + " max"}) {
                    if (m.get(k) != null) {
                        min = Math.min(min, m.get(k));
                        max = Math.max(max, m.get(k));
                    }
                }
            }
        }
        if (!(max > min)) {
            max = min + 1;
        }
        int n = Math.max(1, log.size() - 1);
        g.setColor(Color.GRAY);
        g.drawRect(left, top, w - left - right, h - top - bottom);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        g.setColor(Color.BLACK);
        g.drawString(title, left, top - 15);
        g.drawString(String.format("%.3g", max), 5, top + 5);
        g.drawString(String.format("%.3g", min), 5, h - bottom);
        if (xLabels == null) {
            g.drawString("step 1", left, h - bottom + 20);
            g.drawString("step " + log.size(), w - right - 60, h - bottom + 20);
        } else {
            for (int i = 0; i < xLabels.size(); i++) {
                int x = left + (w - left - right) * i / n;
                g.drawString(xLabels.get(i), Math.min(x, w - right - 70), h - bottom + 20);
            }
        }
        g.setStroke(new BasicStroke(2f));
        for (int si = 0; si < series.size(); si++) {
            g.setColor(COLORS[si % COLORS.length]);
            g.drawString(series.get(si), left + 10 + si * 150, h - 10);
            for (int i = 0; i < log.size(); i++) {
                Double lo = log.get(i).get(series.get(si) + " min"), hi = log.get(i).get(series.get(si) + " max");
                if (lo != null && hi != null) {
                    int x = left + (w - left - right) * i / n + si * 3;
                    g.drawLine(x, y(lo, min, max, top, h - bottom), x, y(hi, min, max, top, h - bottom));
                }
            }
            for (int i = 1; i < log.size(); i++) {
                if (log.get(i - 1).get(series.get(si)) == null || log.get(i).get(series.get(si)) == null) {
                    continue;
                }
                int x0 = left + (w - left - right) * (i - 1) / n, x1 = left + (w - left - right) * i / n;
                int y0 = y(log.get(i - 1).get(series.get(si)), min, max, top, h - bottom);
                int y1 = y(log.get(i).get(series.get(si)), min, max, top, h - bottom);
                g.drawLine(x0, y0, x1, y1);
            }
        }
        g.dispose();
        ImageIO.write(img, "png", file.toFile());
    }

    private static int y(double v, double min, double max, int top, int bottom) {
        return (int) Math.round(bottom - (v - min) / (max - min) * (bottom - top));
    }
}
