package org.driftml.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import org.driftml.data.OnBadRecord;
import org.driftml.data.Satisfaction;
import org.driftml.data.ServedLogs;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The chat page at {@code /} in headless Chromium (Debian's chromium and chromium-driver, which {@code .ci/run}
 * installs): a message sent, the reply streamed in, thumbs down with a comment, and the feedback in the log.
 */
class ChatPageTest {
    private static WebDriver chromium() {
        ChromeOptions options = new ChromeOptions();
        options.setBinary("/usr/bin/chromium");
        // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
        options.addArguments("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu");
        ChromeDriverService service = new ChromeDriverService.Builder()
                .usingDriverExecutable(new java.io.File("/usr/bin/chromedriver")).build();
        return new ChromeDriver(service, options);
    }

    @Test
    void aStreamedReplyAndAThumbsDownWithACommentReachTheLog(@TempDir Path dir) throws Exception {
        Path log = dir.resolve("log");
        try (ChatServer server = ServeTestSupport.serve(ServeTestSupport.modelFolder(), 128, 2, 8, null,
                Duration.ofSeconds(120), log)) {
            WebDriver browser = chromium();
            try {
                browser.get(ServeTestSupport.base(server) + "/");
                WebDriverWait wait = new WebDriverWait(browser, Duration.ofSeconds(90));
                browser.findElement(By.id("input")).sendKeys("What is 2+2?");
                browser.findElement(By.id("send")).click();
                WebElement reply = wait.until(b -> b.findElements(By.cssSelector(".turn.assistant.done")).stream()
                        .findFirst().orElse(null));
                assertEquals("", browser.findElement(By.id("status")).getText());
                String responseId = reply.getDomAttribute("data-response-id");
                assertTrue(responseId.startsWith("chatcmpl-"), responseId);
                int chunks = Integer.parseInt(reply.getDomAttribute("data-chunks"));
                assertTrue(chunks > 1, "the reply came in " + chunks + " piece(s), not streamed");
                String shown = reply.findElement(By.className("text")).getText();
                reply.findElement(By.className("comment")).sendKeys("that is not 4");
                reply.findElement(By.className("thumbs-down")).click();
                wait.until(b -> reply.findElement(By.className("sent")).getText().equals("feedback saved"));

                ServedLogs.Read read = ServedLogs.read(log, OnBadRecord.FAIL);
                assertEquals(1, read.replies().size());
                assertEquals(responseId, read.replies().get(0).id());
                assertEquals(shown.strip(), read.replies().get(0).reply().strip());
                assertEquals(1, read.feedback().size());
                ServedLogs.Feedback f = read.feedback().get(0);
                assertEquals(responseId, f.responseId());
                assertEquals(Satisfaction.DSAT, f.label());
                assertEquals("that is not 4", f.comment());
            } finally {
                browser.quit();
            }
        }
    }
}
