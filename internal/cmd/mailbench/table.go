package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// writeTable prints the report as an aligned text table.
func writeTable(w io.Writer, rep *Report) error {
	corpus := "no corpus mailbox"
	if rep.Messages > 0 {
		corpus = fmt.Sprintf("%d messages, %.1f MB", rep.Messages, float64(rep.Bytes)/1e6)
	}
	fmt.Fprintf(w, "mailbench: %s, seed %d, %d runs (medians); %s\n",
		corpus, rep.Seed, rep.Runs, rep.Machine)
	if rep.ScaleMessages > 0 {
		fmt.Fprintf(w, "100k folder: %d small messages, %.1f MB as seeded (+%d a run)\n",
			rep.ScaleMessages, float64(rep.ScaleBytes)/1e6, scaleNew)
	}
	if rep.LoadEnd != "" {
		fmt.Fprintf(w, "load average at the end: %s\n", rep.LoadEnd)
	}
	if len(rep.Peers) > 0 {
		fmt.Fprintf(w, "peers: %s\n", strings.Join(rep.Peers, ", "))
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	width := len("job")
	for _, r := range rep.Results {
		width = max(width, len(r.Job))
	}
	pad := func(s string) string { return fmt.Sprintf("%-*s", width, s) }
	fmt.Fprintln(tw, pad("job")+"\tmedian s\tMB/s\tRSS MiB\tmsgs\tvs peer\tvs wire\tvs floor\t")
	var skipped []string
	for _, r := range rep.Results {
		if r.Skipped != "" {
			skipped = append(skipped, fmt.Sprintf("%s: %s", r.Job, r.Skipped))
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t-\t-\t-\t\n", pad(r.Job))
			continue
		}
		fmt.Fprintf(tw, "%s\t%.3f\t%s\t%.1f\t%d\t%s\t%s\t%s\t\n",
			pad(r.Job), r.Median, num(r.MBps, "%.1f"), r.RSSMiB, r.Messages,
			ratio(r.VsPeer, r.Peer), ratio(r.VsWire, r.Wire), ratio(r.VsFloor, r.Floor))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(skipped) > 0 {
		fmt.Fprintf(w, "\nskipped:\n  %s\n", strings.Join(skipped, "\n  "))
	}
	fmt.Fprintln(w, "\nvs peer = peer median / job median (>1: faster than mbsync for IMAP, mpop for POP3);"+
		"\nvs wire = job median / wire-floor median (1: at the floor);"+
		"\nvs floor = durable sync median / max(wire floor, floor-disk) median, naming the larger floor.")
	return nil
}

// num formats v, or "-" for zero.
func num(v float64, format string) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf(format, v)
}

// ratio formats a ratio with the job it was taken against.
func ratio(v float64, against string) string {
	if v == 0 || against == "" {
		return "-"
	}
	return fmt.Sprintf("%.2fx %s", v, against)
}
