#include <cmath>

#include "report.hpp"

namespace jobrunner::bench {
namespace {

using Json = nlohmann::ordered_json;

// Figures to a sensible precision, not 17 digits.
double round_to(double value, int decimals) {
  const double scale = std::pow(10.0, decimals);
  return std::round(value * scale) / scale;
}

Json summary_ms(const Summary& s) {
  return {{"count", s.count},           {"mean_ms", round_to(s.mean, 3)},
          {"min_ms", round_to(s.min, 3)}, {"p50_ms", round_to(s.p50, 3)},
          {"p99_ms", round_to(s.p99, 3)}, {"max_ms", round_to(s.max, 3)}};
}

Json drain_row(const DrainRow& row) {
  Json j = {{"measure", std::string(1, row.measure)},
            {"label", row.label},     {"program", row.program},
            {"mode", row.daemon ? "daemon" : "cron"},
            {"concurrency", row.concurrency}, {"isolated", row.isolated},
            {"jobs", row.jobs},       {"ok", !row.error}};
  if (row.error) {
    j["error"] = *row.error;
  } else {
    j["seconds"] = round_to(row.seconds, 3);
    j["jobs_per_s"] = round_to(row.jobs_per_s, 1);
    j["peak_rss_mb"] = round_to(row.peak_rss_mb, 2);
  }
  return j;
}

Json target(const Target& t) {
  Json j = {{"name", t.name}, {"requirement", t.requirement}, {"result", t.verdict()}};
  j["ratio"] = t.ratio ? Json(round_to(*t.ratio, 3)) : Json(nullptr);
  j["needs"] = t.need == Target::Need::at_least ? ">=" : t.need == Target::Need::below ? "<" : "<=";
  j["limit"] = t.limit;
  j["figures"] = t.figures;
  return j;
}

}  // namespace

Json report_json(const Results& r, const std::vector<Target>& targets) {
  Json out;
  out["run"] = {{"version", r.run.version},       {"started_utc", r.run.started_utc},
                {"duration_s", round_to(r.run.duration_s, 1)},
                {"jobs", r.run.jobs},             {"quick", r.run.quick},
                {"only", r.run.only},             {"runner", r.run.runner}};
  out["run"]["prefetch"] = r.run.prefetch ? Json(*r.run.prefetch) : Json(nullptr);
  out["machine"] = {{"nproc", r.machine.nproc}, {"cpu_model", r.machine.cpu_model},
                    {"ram_mb", r.machine.ram_mb}, {"kernel", r.machine.kernel}};
  Json settings = Json::object();
  for (const auto& [name, value] : r.server.settings) settings[name] = value;
  out["postgresql"] = {{"version", r.server.version}, {"settings", settings}};

  out["sql_limit"] = nullptr;
  if (const auto& a = r.sql_limit) {
    out["sql_limit"] = {{"jobs", a->jobs},
                        {"batch", a->batch},
                        {"single_jobs_per_s", round_to(a->single_jobs_per_s, 1)},
                        {"batched_jobs_per_s", round_to(a->batched_jobs_per_s, 1)}};
  }
  out["schema_free"] = nullptr;
  if (const auto& i = r.schema_free) {
    Json rows = Json::array();
    for (const auto& row : i->rows) {
      rows.push_back({{"label", row.label},
                      {"connections", row.connections},
                      {"batch", row.batch},
                      {"seconds", round_to(row.seconds, 3)},
                      {"jobs_per_s", round_to(row.jobs_per_s, 1)}});
    }
    out["schema_free"] = {{"jobs", i->jobs}, {"rows", rows}};
  }
  out["drain"] = Json::array();
  for (const auto& row : r.drain) out["drain"].push_back(drain_row(row));
  out["enqueue"] = nullptr;
  if (const auto& c = r.enqueue) {
    out["enqueue"] = {{"bulk_jobs", c->bulk_jobs},
                      {"bulk_batch", c->bulk_batch},
                      {"bulk_jobs_per_s", round_to(c->bulk_jobs_per_s, 1)},
                      {"single_jobs", c->single_jobs},
                      {"single_jobs_per_s", round_to(c->single_jobs_per_s, 1)},
                      {"sql_jobs", c->sql_jobs},
                      {"sql_rounds", c->sql_rounds},
                      {"sql_function_jobs_per_s", round_to(c->sql_function_jobs_per_s, 1)},
                      {"sql_bare_insert_jobs_per_s", round_to(c->sql_bare_insert_jobs_per_s, 1)},
                      {"sql_ratio", round_to(c->sql_ratio, 3)}};
  }
  out["latency"] = nullptr;
  if (const auto& d = r.latency) {
    Json phases = Json::array();
    for (const auto& p : d->phases) {
      Json j = summary_ms(p.ms);
      j["phase"] = p.phase;
      j["priority"] = p.priority;
      j["negative"] = p.negative;
      j["after_claim"] = summary_ms(p.after_claim_ms);
      j["backlog"] = p.backlog;
      j["during_backlog"] = p.during_backlog;
      phases.push_back(j);
    }
    out["latency"] = {{"runner", d->runner}, {"pause_ms", d->pause_ms}, {"phases", phases}};
  }
  out["idle_tick"] = nullptr;
  if (const auto& e = r.idle_tick) {
    out["idle_tick"] = summary_ms(e->ms);
    out["idle_tick"]["startup"] = summary_ms(e->startup_ms);
    out["idle_tick"]["connect"] = summary_ms(e->connect_ms);
  }
  out["claim_scaling"] = nullptr;
  if (const auto& f = r.claim_scaling) {
    Json sizes = Json::array();
    for (const auto& size : f->sizes) {
      Json s = summary_ms(size.ms);
      s["finished_rows"] = size.finished_rows;
      sizes.push_back(s);
    }
    out["claim_scaling"] = {{"sizes", sizes}, {"p50_ratio", round_to(f->p50_ratio, 3)}};
  }
  out["claim_durability"] = nullptr;
  if (const auto& h = r.claim_durability) {
    Json rows = Json::array();
    for (const auto& row : h->rows) {
      Json j = {{"what", row.what}, {"jobs", row.jobs}, {"ok", !row.error}};
      if (row.error) {
        j["error"] = *row.error;
      } else {
        j["flush_wait_off_jobs_per_s"] = round_to(row.flush_wait_off_jobs_per_s, 1);
        j["durable_jobs_per_s"] = round_to(row.durable_jobs_per_s, 1);
        j["durable_over_off"] = round_to(row.ratio(), 3);
        j["flush_wait_off_wal_flushes_per_1k_jobs"] = round_to(row.flush_wait_off_flushes_per_1k, 1);
        j["durable_wal_flushes_per_1k_jobs"] = round_to(row.durable_flushes_per_1k, 1);
        if (r.sql_limit && r.sql_limit->batched_jobs_per_s > 0) {
          j["off_over_sql_limit_batched"] =
              round_to(row.flush_wait_off_jobs_per_s / r.sql_limit->batched_jobs_per_s, 3);
          j["durable_over_sql_limit_batched"] =
              round_to(row.durable_jobs_per_s / r.sql_limit->batched_jobs_per_s, 3);
        }
      }
      rows.push_back(j);
    }
    out["claim_durability"] = {{"rows", rows}};
  }
  out["row_costs"] = r.row_costs ? row_costs_json(*r.row_costs) : Json(nullptr);
  out["peak_rss"] = nullptr;
  if (const auto* g = r.drain_row(drain_label(true, kPeakRssConcurrency, false)); g && !g->error) {
    out["peak_rss"] = {{"label", g->label}, {"mb", round_to(g->peak_rss_mb, 2)}};
  }
  out["targets"] = Json::array();
  for (const auto& t : targets) out["targets"].push_back(target(t));
  out["failures"] = r.failures;
  return out;
}

}  // namespace jobrunner::bench
