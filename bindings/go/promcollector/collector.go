// Package promcollector exposes inferkit's metrics as a prometheus.Collector, so that a Go
// service registers them with its own Prometheus registry:
//
//	reg := prometheus.NewRegistry()
//	reg.MustRegister(promcollector.New(registry)) // an *inferkit.Registry or *inferkit.Model
//	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// On each scrape the collector reads the source's Prometheus text (request counters by
// outcome, latency and batch-size histograms, queue gauges, load events; see inferkit's
// documentation) and turns every sample into a constant metric. It is a separate module so that
// the inferkit binding itself has no dependencies; it does not import the binding either: any
// value with a MetricsPrometheus method will do.
package promcollector

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Source is what the collector reads: *inferkit.Model and *inferkit.Registry are Sources.
type Source interface {
	MetricsPrometheus() (string, error)
}

// Collector is a prometheus.Collector of a Source's metrics. It is "unchecked": its Describe
// sends no descriptors, since the metrics it finds depend on the models loaded at scrape time.
type Collector struct {
	src         Source
	constLabels prometheus.Labels
	errDesc     *prometheus.Desc
}

// Option configures New.
type Option func(*Collector)

// WithConstLabels adds labels to every metric (for example the service's instance name).
func WithConstLabels(labels prometheus.Labels) Option {
	return func(c *Collector) {
		c.constLabels = prometheus.Labels{}
		for k, v := range labels {
			c.constLabels[k] = v
		}
	}
}

// New returns a collector of src's metrics.
func New(src Source, opts ...Option) *Collector {
	c := &Collector{src: src}
	for _, o := range opts {
		o(c)
	}
	c.errDesc = prometheus.NewDesc("inferkit_metrics_error", "inferkit's metrics could not be read.", nil, c.constLabels)
	return c
}

// Describe sends nothing: the collector is unchecked (see prometheus.Collector).
func (c *Collector) Describe(chan<- *prometheus.Desc) {}

// Collect reads and parses the source's metrics and sends them as constant metrics. A source
// that fails (a closed model, text that does not parse) makes the scrape report an error.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	text, err := c.src.MetricsPrometheus()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.errDesc, err)
		return
	}
	metrics, err := Parse(text, c.constLabels)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.errDesc, err)
		return
	}
	for _, m := range metrics {
		ch <- m
	}
}

// Parse turns Prometheus text into constant metrics, with constLabels added to each.
func Parse(text string, constLabels prometheus.Labels) ([]prometheus.Metric, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		return nil, fmt.Errorf("promcollector: parse inferkit metrics: %w", err)
	}
	names := make([]string, 0, len(families))
	for name := range families {
		names = append(names, name)
	}
	sort.Strings(names)
	var out []prometheus.Metric
	for _, name := range names {
		mf := families[name]
		for _, m := range mf.GetMetric() {
			metric, err := convert(mf, m, constLabels)
			if err != nil {
				return nil, fmt.Errorf("promcollector: %s: %w", name, err)
			}
			out = append(out, metric)
		}
	}
	return out, nil
}

func convert(mf *dto.MetricFamily, m *dto.Metric, constLabels prometheus.Labels) (prometheus.Metric, error) {
	pairs := m.GetLabel()
	labelNames := make([]string, len(pairs))
	labelValues := make([]string, len(pairs))
	for i, p := range pairs {
		labelNames[i], labelValues[i] = p.GetName(), p.GetValue()
	}
	desc := prometheus.NewDesc(mf.GetName(), mf.GetHelp(), labelNames, constLabels)
	switch mf.GetType() {
	case dto.MetricType_COUNTER:
		return prometheus.NewConstMetric(desc, prometheus.CounterValue, m.GetCounter().GetValue(), labelValues...)
	case dto.MetricType_GAUGE:
		return prometheus.NewConstMetric(desc, prometheus.GaugeValue, m.GetGauge().GetValue(), labelValues...)
	case dto.MetricType_HISTOGRAM:
		h := m.GetHistogram()
		buckets := make(map[float64]uint64, len(h.GetBucket()))
		for _, b := range h.GetBucket() {
			if !math.IsInf(b.GetUpperBound(), +1) {
				buckets[b.GetUpperBound()] = b.GetCumulativeCount()
			}
		}
		return prometheus.NewConstHistogram(desc, h.GetSampleCount(), h.GetSampleSum(), buckets, labelValues...)
	case dto.MetricType_SUMMARY:
		s := m.GetSummary()
		quantiles := make(map[float64]float64, len(s.GetQuantile()))
		for _, q := range s.GetQuantile() {
			quantiles[q.GetQuantile()] = q.GetValue()
		}
		return prometheus.NewConstSummary(desc, s.GetSampleCount(), s.GetSampleSum(), quantiles, labelValues...)
	default:
		return prometheus.NewConstMetric(desc, prometheus.UntypedValue, m.GetUntyped().GetValue(), labelValues...)
	}
}
