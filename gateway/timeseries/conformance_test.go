package timeseries_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/anxin-care/anxin/gateway/timeseries"
	"github.com/anxin-care/anxin/gateway/timeseries/influxtest"
	"github.com/anxin-care/anxin/gateway/timeseries/timeseriestest"
)

func TestConformanceEmbedded(t *testing.T) {
	timeseriestest.Run(t, func(t *testing.T) timeseries.Store {
		s, err := timeseries.OpenEmbedded(timeseries.EmbeddedConfig{Dir: t.TempDir()}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestConformanceBufferedEmbedded(t *testing.T) {
	timeseriestest.Run(t, func(t *testing.T) timeseries.Store {
		b, err := timeseries.Open(timeseries.Config{Embedded: timeseries.EmbeddedConfig{Dir: t.TempDir()}}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		return b
	})
}

func TestConformanceInfluxDB(t *testing.T) {
	srv := influxtest.Start(t)
	var n atomic.Int64
	timeseriestest.Run(t, func(t *testing.T) timeseries.Store {
		bucket := srv.CreateDatabase(fmt.Sprintf("conformance%d", n.Add(1)))
		s, err := timeseries.OpenInflux(timeseries.InfluxConfig{URL: srv.URL, Token: ":", Bucket: bucket}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
