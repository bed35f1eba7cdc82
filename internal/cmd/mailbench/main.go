package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
)

// childEnv marks a re-executed child process that runs one job.
const childEnv = "MAILBENCH_CHILD"

// options are the command-line settings of one benchmark.
type options struct {
	N     int
	Seed  int64
	Runs  int
	Large bool
	// Scale100k adds the 100k set (scale.go): a 100,000-message folder,
	// its floors, no-op and incremental syncs and listing.
	Scale100k bool
	Only      []string
	JSON      bool
	Keep      bool
	Verbose   bool
	// CPUProfile is a directory where each of our child jobs writes a CPU
	// profile (JOB-runN.cpu); "" writes none.
	CPUProfile string

	// LargeSize is the size of the large message (200 MB; tests shrink it).
	LargeSize int64
	// ScaleN is the size of the 100k folder as seeded (100,000; tests
	// shrink it; at least scaleFlagChanges).
	ScaleN int
	// Peers lists the peer programs to use ("mbsync", "mpop"); nil means
	// every one installed.
	Peers []string
}

func main() {
	if os.Getenv(childEnv) != "" {
		os.Exit(childMain(os.Stdin, os.Stdout))
	}
	log.SetFlags(0)
	log.SetPrefix("mailbench: ")
	opts, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, opts, os.Stdout, os.Stderr); err != nil {
		log.Print(err)
		os.Exit(1)
	}
}

// parseFlags parses the command line into options.
func parseFlags(args []string, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet("mailbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &options{LargeSize: 200 << 20, ScaleN: 100_000}
	fs.IntVar(&o.N, "n", 10_000, "messages in the corpus")
	fs.Int64Var(&o.Seed, "seed", 1, "corpus seed")
	fs.IntVar(&o.Runs, "runs", 3, "repetitions of every job (medians are reported)")
	fs.BoolVar(&o.Large, "large", false, "also measure one 200 MB message (large-* jobs)")
	fs.BoolVar(&o.Scale100k, "scale100k", false, "also run the 100k set: floors, no-op and incremental syncs and listing on a 100,000-message folder")
	only := fs.String("only", "", "comma-separated job names to run (default all)")
	fs.BoolVar(&o.JSON, "json", false, "print results as JSON")
	fs.BoolVar(&o.Keep, "keep", false, "keep the output Maildirs and peer configs (path printed)")
	fs.BoolVar(&o.Verbose, "v", false, "log progress to stderr")
	fs.StringVar(&o.CPUProfile, "cpuprofile", "", "write a CPU profile of each of our jobs (not the peers') into this directory")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: mailbench [flags]\n\nJobs: %s\n\n", strings.Join(allJobNames(), ", "))
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "mailbench: unexpected argument %q\n", fs.Arg(0))
		return nil, errors.New("unexpected arguments")
	}
	if o.N < 1 || o.Runs < 1 {
		fmt.Fprintln(stderr, "mailbench: -n and -runs must be at least 1")
		return nil, errors.New("bad flags")
	}
	if *only != "" {
		known := map[string]bool{}
		for _, n := range allJobNames() {
			known[n] = true
		}
		for _, name := range strings.Split(*only, ",") {
			name = strings.TrimSpace(name)
			if name == "" {
				continue
			}
			if !known[name] {
				fmt.Fprintf(stderr, "mailbench: unknown job %q (jobs: %s)\n", name, strings.Join(allJobNames(), ", "))
				return nil, errors.New("bad -only")
			}
			o.Only = append(o.Only, name)
		}
	}
	return o, nil
}

// machineLine describes the machine and its load, printed with the results.
func machineLine() string {
	return fmt.Sprintf("%d CPUs, load average %s, %s", runtime.NumCPU(), loadAverage(), runtime.Version())
}

// loadAverage returns the 1, 5 and 15 minute load averages.
func loadAverage() string {
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		f := strings.Fields(string(b))
		if len(f) >= 3 {
			return strings.Join(f[:3], " ")
		}
	}
	return "unknown"
}

// writeJSON writes v indented.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
