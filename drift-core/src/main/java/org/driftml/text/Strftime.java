package org.driftml.text;

import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.TextStyle;
import java.util.Locale;

/** Python's strftime directives that chat templates use, in the C locale Python defaults to. */
final class Strftime {
    private Strftime() {}

    static String format(ZonedDateTime t, String format) {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < format.length(); i++) {
            char c = format.charAt(i);
            if (c != '%' || i + 1 == format.length()) {
                out.append(c);
                continue;
            }
            char d = format.charAt(++i);
            switch (d) {
                case 'd': out.append(String.format("%02d", t.getDayOfMonth())); break;
                case 'm': out.append(String.format("%02d", t.getMonthValue())); break;
                case 'Y': out.append(t.getYear()); break;
                case 'y': out.append(String.format("%02d", t.getYear() % 100)); break;
                case 'b': out.append(t.getMonth().getDisplayName(TextStyle.SHORT, Locale.ENGLISH)); break;
                case 'B': out.append(t.getMonth().getDisplayName(TextStyle.FULL, Locale.ENGLISH)); break;
                case 'a': out.append(t.getDayOfWeek().getDisplayName(TextStyle.SHORT, Locale.ENGLISH)); break;
                case 'A': out.append(t.getDayOfWeek().getDisplayName(TextStyle.FULL, Locale.ENGLISH)); break;
                case 'H': out.append(String.format("%02d", t.getHour())); break;
                case 'M': out.append(String.format("%02d", t.getMinute())); break;
                case 'S': out.append(String.format("%02d", t.getSecond())); break;
                case 'j': out.append(String.format("%03d", t.getDayOfYear())); break;
                case 'Z': out.append(t.format(DateTimeFormatter.ofPattern("zzz", Locale.ENGLISH))); break;
                case '%': out.append('%'); break;
                default:
                    throw new ChatTemplate.ChatTemplateException("strftime_now: unsupported directive %" + d);
            }
        }
        return out.toString();
    }
}
