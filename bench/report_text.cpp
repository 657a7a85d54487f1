#include <fmt/format.h>

#include "report.hpp"
#include "text_table.hpp"

namespace jobrunner::bench {
namespace {

std::string rate(double jobs_per_s) { return fmt::format("{:.0f}", jobs_per_s); }
std::string ms(double value) { return fmt::format("{:.3f}", value); }

void print_header(std::ostream& out, const Results& r) {
  out << fmt::format("jobrunner-bench {}: {}, {:.0f} s, measures {}, {} jobs{}\n", r.run.version,
                     r.run.started_utc, r.run.duration_s, r.run.only, r.run.jobs,
                     r.run.quick ? " (--quick)" : "");
  out << fmt::format("machine     {} CPUs, {}, {} MB RAM, {}\n", r.machine.nproc,
                     r.machine.cpu_model, r.machine.ram_mb, r.machine.kernel);
  std::string settings;
  for (const auto& [name, value] : r.server.settings) settings += " " + name + "=" + value;
  out << fmt::format("PostgreSQL  {};{}\n", r.server.version, settings);
  out << fmt::format("runner      {}{}\n", r.run.runner,
                     r.run.prefetch ? fmt::format(" (every runner with --prefetch {})",
                                                  *r.run.prefetch)
                                    : std::string());
}

void print_schema_free(std::ostream& out, const SchemaFreeLimit& i) {
  out << fmt::format(
      "\n(i) schema-free limit: job(id, status) alone, {} rows; claim (SKIP LOCKED) and "
      "complete (id = ANY) in separate transactions\n",
      i.jobs);
  TextTable table({"connections, rows per claim", "transactions", "jobs/s"}, "llr");
  for (const auto& row : i.rows) {
    table.add({row.label, fmt::format("claim {}; complete {}", row.batch, row.batch),
               rate(row.jobs_per_s)});
  }
  table.print(out);
}

void print_sql_limit(std::ostream& out, const SqlLimit& a) {
  out << fmt::format("\n(a) SQL limit: bare claim + finish on the job table, {} jobs\n", a.jobs);
  TextTable table({"mode", "transactions", "jobs/s"}, "llr");
  table.add({"single", "claim 1; finish 1", rate(a.single_jobs_per_s)});
  table.add({"batched", fmt::format("claim {}; finish {} in one UPDATE", a.batch, a.batch),
             rate(a.batched_jobs_per_s)});
  table.print(out);
}

// The drain rows of measure `letter`, under `title`; nothing if there are none.
void print_drain(std::ostream& out, const std::vector<DrainRow>& all, char letter,
                 const std::string& title) {
  std::vector<const DrainRow*> rows;
  for (const auto& row : all) {
    if (row.measure == letter) rows.push_back(&row);
  }
  if (rows.empty()) return;
  out << fmt::format("\n({}) {}, {} jobs each\n", letter, title, rows.front()->jobs);
  TextTable table({"runner", "jobs/s", "seconds", "peak RSS MB"}, "lrrr");
  for (const auto* row_ptr : rows) {
    const auto& row = *row_ptr;
    if (row.error) {
      table.add({row.label, "FAILED (see the end)"});
    } else {
      table.add({row.label, rate(row.jobs_per_s), fmt::format("{:.2f}", row.seconds),
                 fmt::format("{:.1f}", row.peak_rss_mb)});
    }
  }
  table.print(out);
}

void print_enqueue(std::ostream& out, const EnqueueRate& c) {
  out << "\n(c) enqueue rate\n";
  TextTable table({"how", "jobs", "jobs/s"}, "lrr");
  table.add({fmt::format("JobStore::enqueue_many, {} per transaction", c.bulk_batch),
             std::to_string(c.bulk_jobs), rate(c.bulk_jobs_per_s)});
  table.add({"JobStore::enqueue, one per transaction", std::to_string(c.single_jobs),
             rate(c.single_jobs_per_s)});
  if (c.sql_jobs > 0) {
    table.add({fmt::format("jobrunner_enqueue_many, FooJobs of distinct foos, one call (median of {})",
                           c.sql_rounds),
               std::to_string(c.sql_jobs), rate(c.sql_function_jobs_per_s)});
    table.add({fmt::format("bare INSERT ... SELECT of the same rows (median of {})", c.sql_rounds),
               std::to_string(c.sql_jobs), rate(c.sql_bare_insert_jobs_per_s)});
  }
  table.print(out);
}

void print_latency(std::ostream& out, const Latency& d) {
  out << fmt::format(
      "\n(d) latency, the client's clock after the enqueue commit to the job's own clock at its "
      "start ({}, jobs {} ms apart)\n",
      d.runner, d.pause_ms);
  TextTable table({"phase", "jobs", "p50 ms", "p99 ms", "max ms", "min ms",
                   "of which after the claim began, p50 / p99 ms"},
                  "lrrrrrr");
  for (const auto& p : d.phases) {
    table.add({p.phase, std::to_string(p.samples), ms(p.ms.p50), ms(p.ms.p99), ms(p.ms.max),
               ms(p.ms.min),
               fmt::format("{} / {}", ms(p.after_claim_ms.p50), ms(p.after_claim_ms.p99))});
  }
  table.print(out);
  for (const auto& p : d.phases) {
    if (p.backlog > 0) {
      out << fmt::format("  {}: behind a backlog of {} NoopJobs at priority 0, the latency jobs "
                         "at {}; {} of {} started before the backlog's last claim\n",
                         p.phase, p.backlog, p.priority, p.during_backlog, p.samples);
    }
    if (p.negative > 0) {
      out << fmt::format("  {}: {} negative: the job started before the client's commit() "
                         "returned (kept as measured)\n",
                         p.phase, p.negative);
    }
  }
}

void print_idle_tick(std::ostream& out, const IdleTick& e) {
  out << fmt::format("\n(e) idle cron tick, spawn to exit ({} runs)\n", e.runs);
  TextTable table({"", "mean ms", "p50 ms", "max ms"}, "lrrr");
  auto add = [&](const char* what, const Summary& s) {
    table.add({what, ms(s.mean), ms(s.p50), ms(s.max)});
  };
  add("idle cron run", e.ms);
  add("for scale: run-noop-jobs --version", e.startup_ms);
  add("for scale: connect + SELECT 1", e.connect_ms);
  table.print(out);
}

void print_claim_scaling(std::ostream& out, const ClaimScaling& f) {
  const auto& first = f.sizes.front();
  out << fmt::format("\n(f) claim-statement time ({} claims each)\n", first.claims);
  TextTable table({"finished rows", "mean ms", "p50 ms"}, "rrr");
  for (const auto& size : f.sizes) {
    table.add({std::to_string(size.finished_rows), ms(size.ms.mean), ms(size.ms.p50)});
  }
  table.print(out);
  out << fmt::format("  p50 ratio, largest / smallest: {:.2f}\n", f.p50_ratio);
}

void print_claim_durability(std::ostream& out, const ClaimDurability& h,
                            const std::optional<SqlLimit>& a) {
  out << fmt::format(
      "\n(h) claim durability: the claim committed without / with waiting for the WAL flush "
      "(--durable-claims), {} jobs each\n",
      h.rows.empty() ? 0 : h.rows.front().jobs);
  TextTable table({"what", "flush wait off jobs/s", "durable jobs/s", "durable / off",
                   "off / (a) batched", "durable / (a) batched", "WAL flushes per 1k jobs"},
                  "lrrrrrr");
  auto of_limit = [&](double value) {
    return a && a->batched_jobs_per_s > 0 ? fmt::format("{:.3f}", value / a->batched_jobs_per_s)
                                          : std::string("n/a");
  };
  for (const auto& row : h.rows) {
    if (row.error) {
      table.add({row.what, "FAILED (see the end)"});
      continue;
    }
    table.add({row.what, rate(row.flush_wait_off_jobs_per_s), rate(row.durable_jobs_per_s),
               fmt::format("{:.3f}", row.ratio()), of_limit(row.flush_wait_off_jobs_per_s),
               of_limit(row.durable_jobs_per_s),
               fmt::format("{:.0f} / {:.0f}", row.flush_wait_off_flushes_per_1k,
                           row.durable_flushes_per_1k)});
  }
  table.print(out);
  if (a) {
    out << fmt::format("  (a) in the same run: single {} jobs/s, batched {} jobs/s (both commit "
                       "the claim durably)\n",
                       rate(a->single_jobs_per_s), rate(a->batched_jobs_per_s));
  }
}

void print_targets(std::ostream& out, const std::vector<Target>& targets) {
  out << "\ntargets\n";
  TextTable table({"target", "result", "ratio", "figures"}, "llll");
  for (const auto& t : targets) {
    table.add({t.requirement, t.verdict(), t.ratio_text(), t.figures});
  }
  table.print(out);
}

}  // namespace

void print_report(std::ostream& out, const Results& r, const std::vector<Target>& targets) {
  print_header(out, r);
  if (r.sql_limit) print_sql_limit(out, *r.sql_limit);
  if (r.schema_free) print_schema_free(out, *r.schema_free);
  print_drain(out, r.drain, 'b', "drain: NoopJobs by one run-noop-jobs process, in-process");
  print_drain(out, r.drain, 'j',
              "transactional drain: FooJobs (one row each, in the job's transaction) by one "
              "run-foo-jobs process");
  print_drain(out, r.drain, 'k', "isolated drain: NoopJobs by one run-noop-jobs --isolate");
  if (r.enqueue) print_enqueue(out, *r.enqueue);
  if (r.latency) print_latency(out, *r.latency);
  if (r.idle_tick) print_idle_tick(out, *r.idle_tick);
  if (r.claim_scaling) print_claim_scaling(out, *r.claim_scaling);
  if (r.claim_durability) print_claim_durability(out, *r.claim_durability, r.sql_limit);
  if (r.row_costs) print_row_costs(out, *r.row_costs);
  if (const auto* g = r.drain_row(drain_label(true, kPeakRssConcurrency, false))) {
    out << "\n(g) peak RSS of " << g->label << ": "
        << (g->error ? "not measured (see the end)" : fmt::format("{:.1f} MB", g->peak_rss_mb))
        << "\n";
  }
  print_targets(out, targets);
  if (!r.failures.empty()) {
    out << "\ncould not be measured:\n";
    for (const auto& failure : r.failures) out << "  " << failure << "\n";
  }
}

}  // namespace jobrunner::bench
