package fleet

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mailaccess/go-mailaccess/mailaccess"
)

// metrics are the fleet's Prometheus metrics (all prefixed mailfleet_):
//
//	syncs_total{result="ok|error"}     syncs run, by outcome
//	sync_failures_total{reason=...}    failed syncs: auth, temporary, protocol, lease, other
//	messages_total, bytes_total        messages and bytes stored
//	sync_duration_seconds              duration of one account's sync
//	sync_lag_seconds                   how late a sync started after its account was due
//	busy_total                         syncs put off: account leased elsewhere or host at its limit
//	accounts_overdue                   enabled accounts due now (set by the leader's enqueuer)
//	oldest_due_seconds                 how long the most overdue account has waited
type metrics struct {
	syncs    *prometheus.CounterVec
	failures *prometheus.CounterVec
	messages prometheus.Counter
	bytes    prometheus.Counter
	duration prometheus.Histogram
	lag      prometheus.Histogram
	busy     prometheus.Counter
	overdue  prometheus.Gauge
	oldest   prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		syncs:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mailfleet_syncs_total", Help: "Account syncs run, by result (ok, error)."}, []string{"result"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mailfleet_sync_failures_total", Help: "Failed account syncs, by reason (auth, temporary, protocol, lease, other)."}, []string{"reason"}),
		messages: prometheus.NewCounter(prometheus.CounterOpts{Name: "mailfleet_messages_total", Help: "Messages stored."}),
		bytes:    prometheus.NewCounter(prometheus.CounterOpts{Name: "mailfleet_bytes_total", Help: "Bytes of messages stored."}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "mailfleet_sync_duration_seconds", Help: "Duration of one account's sync.", Buckets: prometheus.ExponentialBuckets(0.01, 4, 10)}),
		lag:      prometheus.NewHistogram(prometheus.HistogramOpts{Name: "mailfleet_sync_lag_seconds", Help: "How late a sync started after its account was due.", Buckets: prometheus.ExponentialBuckets(0.1, 4, 10)}),
		busy:     prometheus.NewCounter(prometheus.CounterOpts{Name: "mailfleet_busy_total", Help: "Syncs put off because the account was leased elsewhere or its host was at its limit."}),
		overdue:  prometheus.NewGauge(prometheus.GaugeOpts{Name: "mailfleet_accounts_overdue", Help: "Enabled accounts due for a sync now."}),
		oldest:   prometheus.NewGauge(prometheus.GaugeOpts{Name: "mailfleet_oldest_due_seconds", Help: "How long the most overdue account has been waiting."}),
	}
	m.syncs.WithLabelValues("ok")
	m.syncs.WithLabelValues("error")
	if reg != nil {
		reg.MustRegister(m.syncs, m.failures, m.messages, m.bytes, m.duration, m.lag, m.busy, m.overdue, m.oldest)
	}
	return m
}

func (m *metrics) observe(rep *mailaccess.SyncReport, err error, d time.Duration) {
	m.duration.Observe(d.Seconds())
	if rep != nil {
		t := rep.Total()
		m.messages.Add(float64(t.New))
		m.bytes.Add(float64(t.Bytes))
	}
	if err == nil {
		m.syncs.WithLabelValues("ok").Inc()
		return
	}
	m.syncs.WithLabelValues("error").Inc()
	m.failures.WithLabelValues(reason(err)).Inc()
}

func reason(err error) string {
	switch {
	case errors.Is(err, mailaccess.ErrAuth):
		return "auth"
	case errors.Is(err, mailaccess.ErrLocked):
		return "lease"
	case errors.Is(err, mailaccess.ErrTemporary):
		return "temporary"
	case errors.Is(err, mailaccess.ErrProtocol):
		return "protocol"
	}
	return "other"
}
