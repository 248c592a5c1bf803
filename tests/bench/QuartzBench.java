// The jobs_bench workload on Quartz 2.3.2: R one-shot jobs per second,
// spread evenly over S seconds, on a RAMJobStore scheduler with T worker
// threads; prints "RESULT p50 p99 p99.9 max jobs" (microseconds from each
// job's scheduled fire time to its execute() call).
//   java -cp quartz2.jar:slf4j-api.jar:slf4j-nop.jar QuartzBench.java R S T
import java.time.Instant;
import java.util.Arrays;
import java.util.Date;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicLong;
import org.quartz.Job;
import org.quartz.JobBuilder;
import org.quartz.JobExecutionContext;
import org.quartz.Scheduler;
import org.quartz.SimpleScheduleBuilder;
import org.quartz.TriggerBuilder;
import org.quartz.impl.StdSchedulerFactory;

public class QuartzBench {
  static long[] latency;
  static final AtomicLong done = new AtomicLong();

  public static class BenchJob implements Job {
    @Override
    public void execute(JobExecutionContext context) {
      final Instant now = Instant.now();
      final long nominalUs = context.getScheduledFireTime().getTime() * 1000L;
      final long us = now.getEpochSecond() * 1_000_000L + now.getNano() / 1000 - nominalUs;
      final long i = done.getAndIncrement();
      if (i < latency.length) latency[(int) i] = us;
    }
  }

  public static void main(String[] args) throws Exception {
    final int rate = Integer.parseInt(args[0]);
    final int seconds = Integer.parseInt(args[1]);
    final int threads = Integer.parseInt(args[2]);
    final int n = rate * seconds;
    latency = new long[n];
    final Properties p = new Properties();
    p.setProperty("org.quartz.scheduler.instanceName", "bench");
    p.setProperty("org.quartz.scheduler.skipUpdateCheck", "true");
    p.setProperty("org.quartz.threadPool.threadCount", Integer.toString(threads));
    p.setProperty("org.quartz.jobStore.class", "org.quartz.simpl.RAMJobStore");
    // Quartz's advice for many triggers: acquire up to the pool's size at once.
    p.setProperty("org.quartz.scheduler.batchTriggerAcquisitionMaxCount", Integer.toString(threads));
    final Scheduler s = new StdSchedulerFactory(p).getScheduler();
    s.start();
    final long t0 = (System.currentTimeMillis() / 1000 + 1) * 1000 + 3000 + n / 8;
    for (int i = 0; i < n; ++i) {
      final long at = t0 + (long) i * 1000 / rate;
      s.scheduleJob(
          JobBuilder.newJob(BenchJob.class).withIdentity("job-" + i).build(),
          TriggerBuilder.newTrigger()
              .withIdentity("t-" + i)
              .startAt(new Date(at))
              .withSchedule(SimpleScheduleBuilder.simpleSchedule().withMisfireHandlingInstructionFireNow())
              .build());
    }
    if (System.currentTimeMillis() > t0 - 500) {
      System.err.println("Quartz: scheduling took past the first fire");
      System.exit(1);
    }
    final long end = t0 + seconds * 1000L + 30000;
    while (done.get() < n && System.currentTimeMillis() < end) Thread.sleep(1);
    s.shutdown(true);
    final int got = (int) Math.min(done.get(), n);
    final long[] l = Arrays.copyOf(latency, got);
    Arrays.sort(l);
    final java.util.function.DoubleFunction<Long> q = f -> got == 0 ? 0 : l[(int) Math.min(got - 1, (long) (f * got))];
    System.out.println("RESULT " + q.apply(0.50) + " " + q.apply(0.99) + " " + q.apply(0.999) + " "
        + (got == 0 ? 0 : l[got - 1]) + " " + got);
  }
}
