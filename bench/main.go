package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	cfg := benchConfig{}
	flag.StringVar(&cfg.bin, "bin", "bin/husky", "the husky binary to measure")
	flag.DurationVar(&cfg.duration, "duration", 10_000_000_000, "how long each load scenario runs")
	flag.IntVar(&cfg.backlog, "backlog", 1_000_000, "pending deliveries in the backlog scenario")
	flag.IntVar(&cfg.purge, "purge", 100_000, "orders in the purge scenario")
	flag.IntVar(&cfg.subjects, "subjects", 1_000_000, "orders among which a data-subject request looks a person up")
	flag.IntVar(&cfg.deliveries, "deliveries", 40_000, "orders in the delivery scenarios (two webhooks each)")
	flag.StringVar(&cfg.postgres, "postgres", postgresServer(), "PostgreSQL server URL the PostgreSQL rows create a database per scenario on (default $HUSKY_BENCH_POSTGRES, else $HUSKY_TEST_POSTGRES; empty skips those rows)")
	flag.IntVar(&cfg.instances, "instances", 2, "the most instances in the PostgreSQL rows (1 or 2)")
	flag.StringVar(&cfg.only, "only", "", "run only these scenarios (comma-separated: intake,tracing,delivery,intake-postgres,delivery-postgres,end-to-end,latency,backlog,purge,subjects,console,keys)")
	flag.Parse()
	if err := runBench(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// postgresServer is where the PostgreSQL rows run unless -postgres says.
func postgresServer() string {
	if u := os.Getenv("HUSKY_BENCH_POSTGRES"); u != "" {
		return u
	}
	return os.Getenv("HUSKY_TEST_POSTGRES")
}
