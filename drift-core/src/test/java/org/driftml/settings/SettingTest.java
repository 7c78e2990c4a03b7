package org.driftml.settings;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class SettingTest {
    enum Shape { ROUND, FLAT_TOP }

    private static final Setting<Double> RATE = Setting.real("learning_rate", "peak rate", "", "> 0", v -> v > 0, 1e-3,
            "test").alsoCalled("lr");
    private static final Setting<Shape> SHAPE = Setting.choice("shape", Shape.class, "a shape", Shape.ROUND, "test");

    @Test
    void aSettingIsNamedReadAndCheckedByItsDeclaration() {
        assertEquals("--learning-rate", RATE.option());
        assertEquals(List.of("--lr"), RATE.aliases());
        assertEquals(2.5e-7, RATE.parse("2.5e-7"));
        assertEquals(Shape.FLAT_TOP, SHAPE.parse("flat-top"));
        assertEquals(Shape.FLAT_TOP, SHAPE.parse("FLAT_TOP"));
        assertEquals("flat-top", SHAPE.recorded(Shape.FLAT_TOP));
        assertEquals("round|flat-top", SHAPE.range());

        InvalidSettingException negative = assertThrows(InvalidSettingException.class, () -> RATE.parse("-1"));
        assertSame(RATE, negative.setting());
        assertEquals("--learning-rate: must be > 0, got -1.0", negative.forOption());
        // NaN and infinities never pass a real setting, whatever its range says.
        assertThrows(InvalidSettingException.class, () -> RATE.check(Double.NaN));
        assertThrows(InvalidSettingException.class, () -> RATE.check(Double.POSITIVE_INFINITY));
        assertEquals("--learning-rate: not a double, got fast",
                assertThrows(InvalidSettingException.class, () -> RATE.parse("fast")).forOption());
        assertEquals("--shape: must be round or flat-top, got oval",
                assertThrows(InvalidSettingException.class, () -> SHAPE.parse("oval")).forOption());
    }

    @Test
    void settingsHoldEveryDeclaredValueInOrder() {
        Settings s = Settings.defaults(List.of(SHAPE, RATE));
        assertEquals("{shape=round, learning_rate=0.001}", s.recorded().toString());
        Settings t = s.with(RATE, 2e-3);
        assertEquals(1e-3, s.get(RATE));
        assertEquals(2e-3, t.get(RATE));
        assertThrows(InvalidSettingException.class, () -> s.with(RATE, 0.0));
        assertThrows(InvalidSettingException.class, () -> Setting.real("rate", "a rate", "", "> 0", v -> v > 0, -1.0,
                "test"), "a declared default is checked too");
    }
}
