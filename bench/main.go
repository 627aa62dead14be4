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
	flag.StringVar(&cfg.only, "only", "", "run only these scenarios (comma-separated: intake,delivery,latency,backlog,purge,subjects,console,keys)")
	flag.Parse()
	if err := runBench(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}
