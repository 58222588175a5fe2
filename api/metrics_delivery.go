package api

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"heed/engine"
)

// DeliveryMetrics count what the scheduler plans and delivers; it satisfies
// scheduler.Metrics. The counters are served on /metrics with the rest.
type DeliveryMetrics struct {
	planned   prometheus.Counter
	delivered *prometheus.CounterVec
	lateness  prometheus.Histogram
}

// NewDeliveryMetrics registers the delivery metrics with reg.
func NewDeliveryMetrics(reg *prometheus.Registry) *DeliveryMetrics {
	m := &DeliveryMetrics{
		planned: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "heed_deliveries_planned_total",
			Help: "Contacts scheduled in the delivery ledger by planning.",
		}),
		delivered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "heed_deliveries_total",
			Help: "Delivery outcomes by channel, status (sent, suppressed, deferred, failed) and reason.",
		}, []string{"channel", "status", "reason"}),
		lateness: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "heed_delivery_lateness_seconds",
			Help:    "How long after its due time a message was sent.",
			Buckets: []float64{0.5, 1, 2, 5, 10, 30, 60, 300, 1800, 3600},
		}),
	}
	m.planned = register(reg, m.planned)
	m.delivered = register(reg, m.delivered)
	m.lateness = register(reg, m.lateness)
	return m
}

// Planned counts n scheduled contacts.
func (m *DeliveryMetrics) Planned(n int) { m.planned.Add(float64(n)) }

// Delivered counts one outcome; a sent one's lateness joins the histogram.
func (m *DeliveryMetrics) Delivered(ch engine.Channel, status engine.DeliveryStatus, reason string, lateness time.Duration) {
	m.delivered.WithLabelValues(string(ch), string(status), reason).Inc()
	if status == engine.DeliverySent {
		m.lateness.Observe(max(lateness, 0).Seconds())
	}
}
