package org.driftml.report;

import java.awt.BasicStroke;
import java.awt.Color;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.axis.SymbolAxis;
import org.jfree.chart.axis.ValueAxis;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYErrorRenderer;
import org.jfree.data.xy.YIntervalSeries;
import org.jfree.data.xy.YIntervalSeriesCollection;

/**
 * PNG line plots of training dynamics (the paper's figure of loss and chosen / rejected rewards over steps), drawn by
 * JFreeChart with labelled axes, ticks and grid lines; headless, 720 x 420.
 */
public final class TrainingPlots {
    static {
        System.setProperty("java.awt.headless", "true");
    }

    private static final Color[] COLORS = {new Color(0x1f77b4), new Color(0xd62728), new Color(0x2ca02c),
            new Color(0x7f7f7f)};

    private TrainingPlots() {}

    /**
     * Writes {@code loss.png} and {@code rewards.png} into {@code folder}.
     *
     * @param log    one map of metrics per optimiser step, TRL's names
     * @param folder where the two files go
     * @throws IOException when a file cannot be written
     */
    public static void write(List<Map<String, Double>> log, Path folder) throws IOException {
        lines(log, List.of("loss"), null, "DPO loss", folder.resolve("loss.png"));
        lines(log, List.of("rewards/chosen", "rewards/rejected", "rewards/margins"), null, "implicit rewards",
                folder.resolve("rewards.png"));
    }

    /**
     * A line per series over the points in order. A point holding {@code "<series> min"} and {@code "<series> max"}
     * gets an error bar between them (the spread over seeds, say).
     *
     * @param log     the points, each a map from series name to value
     * @param series  the series to draw, in legend order
     * @param xLabels a name per point, or null for steps 1..N on a numeric axis
     * @param title   the chart's title
     * @param file    the PNG to write
     * @throws IOException when it cannot be written
     */
    public static void lines(List<Map<String, Double>> log, List<String> series, List<String> xLabels, String title,
            Path file) throws IOException {
        YIntervalSeriesCollection data = new YIntervalSeriesCollection();
        for (String name : series) {
            YIntervalSeries s = new YIntervalSeries(name);
            for (int i = 0; i < log.size(); i++) {
                Double y = log.get(i).get(name);
                if (y == null) {
                    continue;
                }
                Double lo = log.get(i).get(name + " min"), hi = log.get(i).get(name + " max");
                double x = xLabels == null ? i + 1 : i;
                s.add(x, y, lo != null ? lo : y, hi != null ? hi : y);
            }
            data.addSeries(s);
        }
        ValueAxis x;
        if (xLabels == null) {
            NumberAxis steps = new NumberAxis("step");
            steps.setStandardTickUnits(NumberAxis.createIntegerTickUnits());
            x = steps;
        } else {
            x = new SymbolAxis(null, xLabels.toArray(String[]::new));
        }
        NumberAxis y = new NumberAxis();
        y.setAutoRangeIncludesZero(false);
        XYErrorRenderer renderer = new XYErrorRenderer();
        renderer.setDrawXError(false);
        renderer.setDefaultLinesVisible(true);
        renderer.setDefaultShapesVisible(log.size() <= 40);
        for (int i = 0; i < series.size(); i++) {
            renderer.setSeriesPaint(i, COLORS[i % COLORS.length]);
            renderer.setSeriesStroke(i, new BasicStroke(2f));
        }
        XYPlot plot = new XYPlot(data, x, y, renderer);
        plot.setBackgroundPaint(Color.WHITE);
        plot.setDomainGridlinePaint(Color.LIGHT_GRAY);
        plot.setRangeGridlinePaint(Color.LIGHT_GRAY);
        JFreeChart chart = new JFreeChart(title, JFreeChart.DEFAULT_TITLE_FONT, plot, series.size() > 1);
        chart.setBackgroundPaint(Color.WHITE);
        ChartUtils.saveChartAsPNG(file.toFile(), chart, 720, 420);
    }
}
