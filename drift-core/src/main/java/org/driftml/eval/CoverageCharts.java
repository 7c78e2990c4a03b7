package org.driftml.eval;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.geom.Ellipse2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.plot.CategoryPlot;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.renderer.category.BarRenderer;
import org.jfree.chart.renderer.category.StandardBarPainter;
import org.jfree.data.category.DefaultCategoryDataset;

/**
 * The exploration figures: per prompt, the paper's Figure 3 (the terrain of Z_all over the UMAP plane, the high-reward
 * region H inside a dashed boundary, each method's share S_m shaded in its colour, and the replies as points by
 * method), drawn with Java2D since it is a raster with overlays; and Figure 2's bar chart of the mean shares, drawn by
 * JFreeChart.
 */
public final class CoverageCharts {
    static {
        System.setProperty("java.awt.headless", "true");
    }

    private static final Color[] METHOD_COLORS = {new Color(0xd62728), new Color(0x1f77b4), new Color(0x2ca02c),
            new Color(0x9467bd), new Color(0xff7f0e), new Color(0x8c564b)};
    /** matplotlib's "terrain" colour map, sampled at its stops (sea, lowland, hills, peaks). */
    private static final double[] STOPS = {0, 0.15, 0.25, 0.5, 0.75, 1};
    private static final Color[] TERRAIN = {new Color(0x333399), new Color(0x0099ff), new Color(0x00cc66),
            new Color(0xffff99), new Color(0x805c54), new Color(0xffffff)};

    private CoverageCharts() {}

    static Color methodColor(int i) {
        return METHOD_COLORS[i % METHOD_COLORS.length];
    }

    static Color terrain(double z) {
        for (int k = 1; k < STOPS.length; k++) {
            if (z <= STOPS[k]) {
                double t = (z - STOPS[k - 1]) / (STOPS[k] - STOPS[k - 1]);
                Color a = TERRAIN[k - 1], b = TERRAIN[k];
                return new Color((int) Math.round(a.getRed() + t * (b.getRed() - a.getRed())),
                        (int) Math.round(a.getGreen() + t * (b.getGreen() - a.getGreen())),
                        (int) Math.round(a.getBlue() + t * (b.getBlue() - a.getBlue())));
            }
        }
        return TERRAIN[TERRAIN.length - 1];
    }

    /** Figure 3 for one prompt, 760 x 640. */
    public static void terrain(Exploration.PromptResult r, Coverage.Settings settings, String title, Path file) throws IOException {
        Coverage.Result c = r.coverage();
        double zHigh = c.covering();
        int width = 760, height = 640, left = 50, top = 50, plot = 520;
        BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, width, height);
        int nx = c.xs().length, ny = c.ys().length;
        double cw = plot / (double) nx, ch = plot / (double) ny;
        List<String> methods = new ArrayList<>(c.share().keySet());
        for (int iy = 0; iy < ny; iy++) {
            for (int ix = 0; ix < nx; ix++) {
                int x0 = left + (int) Math.floor(ix * cw), y0 = top + plot - (int) Math.ceil((iy + 1) * ch);
                int w = (int) Math.ceil(cw) + 1, h = (int) Math.ceil(ch) + 1;
                g.setColor(terrain(c.zAll()[iy][ix]));
                g.fillRect(x0, y0, w, h);
                for (int m = 0; m < methods.size(); m++) {
                    if (c.covers(methods.get(m), iy, ix)) {
                        Color mc = methodColor(m);
                        g.setColor(new Color(mc.getRed(), mc.getGreen(), mc.getBlue(), 70));
                        g.fillRect(x0, y0, w, h);
                    }
                }
            }
        }
        // Each S_m's boundary in its method's colour (the shades blend where methods overlap).
        g.setStroke(new BasicStroke(1.5f));
        for (int m = 0; m < methods.size(); m++) {
            String method = methods.get(m);
            g.setColor(methodColor(m));
            outline(g, (iy, ix) -> c.covers(method, iy, ix), nx, ny, left, top + plot, cw, ch, false);
        }
        // H's boundary, dashed.
        g.setColor(Color.BLACK);
        g.setStroke(new BasicStroke(2f));
        outline(g, (iy, ix) -> c.high()[iy][ix], nx, ny, left, top + plot, cw, ch, true);
        double x0 = c.xs()[0] - (c.xs()[1] - c.xs()[0]) / 2, x1 = c.xs()[nx - 1] + (c.xs()[1] - c.xs()[0]) / 2;
        double y0 = c.ys()[0] - (c.ys()[1] - c.ys()[0]) / 2, y1 = c.ys()[ny - 1] + (c.ys()[1] - c.ys()[0]) / 2;
        g.setStroke(new BasicStroke(1f));
        for (int i = 0; i < r.points().length; i++) {
            int m = methods.indexOf(r.methods().get(i));
            double px = left + (r.points()[i][0] - x0) / (x1 - x0) * plot;
            double py = top + plot - (r.points()[i][1] - y0) / (y1 - y0) * plot;
            g.setColor(methodColor(m));
            g.fill(new Ellipse2D.Double(px - 3.5, py - 3.5, 7, 7));
            g.setColor(Color.BLACK);
            g.draw(new Ellipse2D.Double(px - 3.5, py - 3.5, 7, 7));
        }
        g.setColor(Color.DARK_GRAY);
        g.drawRect(left, top, plot, plot);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 14));
        g.setColor(Color.BLACK);
        g.drawString(title.length() > 90 ? title.substring(0, 87) + "..." : title, left, 30);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        g.drawString("UMAP 1", left + plot / 2 - 20, top + plot + 22);
        java.awt.geom.AffineTransform upright = g.getTransform();
        g.rotate(-Math.PI / 2, left - 12, top + plot / 2 + 20);
        g.drawString("UMAP 2", left - 12, top + plot / 2 + 20);
        g.setTransform(upright);
        int ly = top + 10;
        for (int m = 0; m < methods.size(); m++) {
            g.setColor(methodColor(m));
            g.fill(new Ellipse2D.Double(left + plot + 20, ly - 9, 10, 10));
            g.setColor(Color.BLACK);
            g.drawString(String.format(java.util.Locale.ROOT, "%s  share %.2f", methods.get(m),
                    c.share().get(methods.get(m))), left + plot + 36, ly);
            ly += 22;
        }
        g.drawString("- - - high-reward", left + plot + 20, ly + 10);
        g.drawString(String.format(java.util.Locale.ROOT, "region H (top %.0f%%)", 100 * (1 - settings.quantile())),
                left + plot + 20, ly + 26);
        g.drawString("shade and line: S_m,", left + plot + 20, ly + 52);
        g.drawString(String.format(java.util.Locale.ROOT, "where D_m >= %.2f in H", zHigh), left + plot + 20, ly + 68);
        // Z_all's colour bar
        for (int k = 0; k <= 100; k++) {
            g.setColor(terrain(k / 100.0));
            g.fillRect(left + plot + 20, top + plot - 2 * k - 2, 16, 3);
        }
        g.setColor(Color.BLACK);
        g.drawString("Z_all 1", left + plot + 40, top + plot - 196);
        g.drawString("0", left + plot + 40, top + plot);
        g.dispose();
        Files.createDirectories(file.toAbsolutePath().getParent());
        ImageIO.write(img, "png", file.toFile());
    }

    /** A set of grid cells. */
    private interface Region {
        boolean has(int iy, int ix);
    }

    /**
     * A region's outline: the edge between each cell in it and its right or upper neighbour that is not (or the grid's
     * end); dashed, only every other cell's edges are drawn.
     */
    private static void outline(Graphics2D g, Region region, int nx, int ny, double left, double bottom, double cw,
            double ch, boolean dashed) {
        for (int iy = 0; iy < ny; iy++) {
            for (int ix = 0; ix < nx; ix++) {
                if (dashed && (ix + iy) % 2 != 0) {
                    continue;
                }
                boolean in = region.has(iy, ix);
                double x = left + ix * cw, y = bottom - iy * ch;
                if (in != (ix + 1 < nx && region.has(iy, ix + 1))) {
                    g.drawLine((int) (x + cw), (int) (y - ch), (int) (x + cw), (int) y);
                }
                if (in != (iy + 1 < ny && region.has(iy + 1, ix))) {
                    g.drawLine((int) x, (int) (y - ch), (int) (x + cw), (int) (y - ch));
                }
            }
        }
    }

    /** Figure 2: the mean share per method, one bar each, 640 x 420. */
    public static void bars(Map<String, Double> share, String title, Path file) throws IOException {
        DefaultCategoryDataset data = new DefaultCategoryDataset();
        share.forEach((m, v) -> data.addValue(v, "share", m));
        JFreeChart chart = ChartFactory.createBarChart(title, "method", "share of H", data, PlotOrientation.VERTICAL,
                false, false, false);
        CategoryPlot plot = chart.getCategoryPlot();
        plot.getRangeAxis().setRange(0, 1);
        BarRenderer renderer = new BarRenderer() {
            @Override
            public java.awt.Paint getItemPaint(int row, int column) {
                return methodColor(column);
            }
        };
        renderer.setBarPainter(new StandardBarPainter());
        renderer.setShadowVisible(false);
        plot.setRenderer(renderer);
        plot.setBackgroundPaint(Color.WHITE);
        plot.setRangeGridlinePaint(Color.LIGHT_GRAY);
        chart.getTitle().setFont(new Font(Font.SANS_SERIF, Font.BOLD, 14));
        Files.createDirectories(file.toAbsolutePath().getParent());
        ChartUtils.saveChartAsPNG(file.toFile(), chart, 640, 420);
    }
}
