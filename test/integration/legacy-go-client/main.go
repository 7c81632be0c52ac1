// A client of the original dispatcher's GetRtcServer call, written against its struct as old clients
// were: Port is a string, Eip carries the port, State "running" marks servers that take clients.
// Usage: legacy-go-client http://127.0.0.1:8080
// It calls every legacy path, prints one line per call and exits 1 at the first answer it cannot use.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

type RtcServer struct {
	Hostname string
	Eip      string
	Port     string
	State    string
}

type GetRtcServerResponse struct {
	RetCode    int
	Action     string
	Message    string
	TotalCount int
	DataSet    []RtcServer
}

type call struct {
	method, path, contentType, body string
	// strict: the answer must hold exactly the original fields (no unknown field).
	strict bool
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: legacy-go-client BASE_URL")
		os.Exit(2)
	}
	base := strings.TrimRight(os.Args[1], "/")
	calls := []call{
		{"GET", "/?Action=GetRtcServer", "", "", true},
		{"POST", "/", "application/json", `{"Action":"GetRtcServer"}`, true},
		{"POST", "/", "application/x-www-form-urlencoded", url.Values{"Action": {"GetRtcServer"}}.Encode(), true},
		{"GET", "/GetRtcServer", "", "", true},
		{"POST", "/GetRtcServer", "application/json", `{}`, true},
		// The richer form: an old client that ignores unknown fields still reads it.
		{"GET", "/?Action=GetRtcServer&Format=extended", "", "", false},
	}
	client := &http.Client{Timeout: 10 * time.Second}
	for _, c := range calls {
		if err := run(client, base, c); err != nil {
			fmt.Printf("FAIL %s %s: %v\n", c.method, c.path, err)
			os.Exit(1)
		}
	}
}

func run(client *http.Client, base string, c call) error {
	var body io.Reader
	if c.body != "" {
		body = bytes.NewBufferString(c.body)
	}
	req, err := http.NewRequest(c.method, base+c.path, body)
	if err != nil {
		return err
	}
	if c.contentType != "" {
		req.Header.Set("Content-Type", c.contentType)
	}
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	if res.StatusCode != 200 {
		return fmt.Errorf("status %d: %s", res.StatusCode, raw)
	}
	var r GetRtcServerResponse
	dec := json.NewDecoder(bytes.NewReader(raw))
	if c.strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(&r); err != nil {
		return fmt.Errorf("cannot unmarshal %s: %v", raw, err)
	}
	if r.RetCode != 0 || r.Action != "GetRtcServerResponse" || r.Message != "GetRtcServer ok" {
		return fmt.Errorf("RetCode %d, Action %q, Message %q", r.RetCode, r.Action, r.Message)
	}
	if r.TotalCount != len(r.DataSet) {
		return fmt.Errorf("TotalCount %d but %d servers", r.TotalCount, len(r.DataSet))
	}
	var running []RtcServer
	for _, s := range r.DataSet {
		if s.State == "running" {
			running = append(running, s)
		}
	}
	if len(running) == 0 {
		return fmt.Errorf("no server with State \"running\" in %s", raw)
	}
	for _, s := range running {
		host, port, err := net.SplitHostPort(s.Eip)
		if err != nil || host == "" || port != s.Port || s.Hostname == "" {
			return fmt.Errorf("server %+v: Eip is not host:Port", s)
		}
	}
	fmt.Printf("ok %s %s: %d running, first %s (%s)\n", c.method, c.path, len(running), running[0].Eip, running[0].Hostname)
	return nil
}
