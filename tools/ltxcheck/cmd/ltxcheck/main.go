// Command ltxcheck applies the reference github.com/superfly/ltx rules and
// Litestream v0.5's restore / takeover / compaction logic to LTX files and to
// a file-replica directory (<root>/ltx/<level>/<min>-<max>.ltx).
//
// Local verification aid for ltxvfs; not part of any repository.
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/superfly/ltx"
)

const (
	SnapshotLevel      = 9
	WALHeaderSize      = 32
	WALFrameHeaderSize = 24
)

var jsonOut bool

func usage() {
	fmt.Fprint(os.Stderr, `ltxcheck: reference-ltx + Litestream v0.5 checks for LTX files / file replicas

usage:
  ltxcheck [--json] verify [--litestream] <file.ltx>...
  ltxcheck [--json] restore [--txid HEX] <replica-root> <out.db>
  ltxcheck [--json] takeover [--wal-size N] [--page-size N] <replica-root>
  ltxcheck [--json] compact [--flags N] <out.ltx> <in.ltx>...
  ltxcheck [--json] reencode <in.ltx> <out.ltx>
  ltxcheck [--json] check [--wal-size N] <replica-root>   (verify --litestream all files + restore to temp + takeover)
  ltxcheck encodedb [--txid N] [--checksum] [--wal-offset N --wal-size N] <db-file> <out.ltx>
                                              (reference encoder: a database as a snapshot 1-N, NoChecksum unless --checksum)

exit status: 0 ok, 1 a check failed, 2 usage error
`)
}

func main() {
	args := os.Args[1:]
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		switch args[0] {
		case "--json", "-json":
			jsonOut = true
		case "-h", "--help", "-help":
			usage()
			os.Exit(0)
		default:
			usage()
			os.Exit(2)
		}
		args = args[1:]
	}
	if len(args) == 0 {
		usage()
		os.Exit(2)
	}
	var ok bool
	switch args[0] {
	case "verify":
		ok = cmdVerify(args[1:])
	case "restore":
		ok = cmdRestore(args[1:])
	case "takeover":
		ok = cmdTakeover(args[1:])
	case "compact":
		ok = cmdCompact(args[1:])
	case "reencode":
		ok = cmdReencode(args[1:])
	case "check":
		ok = cmdCheck(args[1:])
	case "encodedb":
		ok = cmdEncodeDB(args[1:])
	default:
		usage()
		os.Exit(2)
	}
	if !ok {
		os.Exit(1)
	}
}

// ---------------------------------------------------------------- output

func emit(v interface{}, text func()) {
	if jsonOut {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(v)
		return
	}
	text()
}

func errStr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// ---------------------------------------------------------------- verify

type HeaderJSON struct {
	Flags             string `json:"flags"`
	NoChecksum        bool   `json:"noChecksum"`
	PageSize          uint32 `json:"pageSize"`
	Commit            uint32 `json:"commit"`
	MinTXID           string `json:"minTXID"`
	MaxTXID           string `json:"maxTXID"`
	Timestamp         int64  `json:"timestamp"`
	TimestampUTC      string `json:"timestampUTC"`
	PreApplyChecksum  string `json:"preApplyChecksum"`
	WALOffset         int64  `json:"walOffset"`
	WALSize           int64  `json:"walSize"`
	WALSalt1          string `json:"walSalt1"`
	WALSalt2          string `json:"walSalt2"`
	NodeID            string `json:"nodeID"`
	PostApplyChecksum string `json:"postApplyChecksum,omitempty"`
	FileChecksum      string `json:"fileChecksum,omitempty"`
}

func headerJSON(h ltx.Header, t *ltx.Trailer) HeaderJSON {
	j := HeaderJSON{
		Flags:            fmt.Sprintf("0x%08x", h.Flags),
		NoChecksum:       h.NoChecksum(),
		PageSize:         h.PageSize,
		Commit:           h.Commit,
		MinTXID:          h.MinTXID.String(),
		MaxTXID:          h.MaxTXID.String(),
		Timestamp:        h.Timestamp,
		TimestampUTC:     time.UnixMilli(h.Timestamp).UTC().Format(ltx.RFC3339Milli),
		PreApplyChecksum: h.PreApplyChecksum.String(),
		WALOffset:        h.WALOffset,
		WALSize:          h.WALSize,
		WALSalt1:         fmt.Sprintf("%08x", h.WALSalt1),
		WALSalt2:         fmt.Sprintf("%08x", h.WALSalt2),
		NodeID:           fmt.Sprintf("%016x", h.NodeID),
	}
	if t != nil {
		j.PostApplyChecksum = t.PostApplyChecksum.String()
		j.FileChecksum = t.FileChecksum.String()
	}
	return j
}

type VerifyResult struct {
	File   string      `json:"file"`
	OK     bool        `json:"ok"`
	Error  string      `json:"error,omitempty"`
	Rule   string      `json:"rule,omitempty"`
	Header *HeaderJSON `json:"header,omitempty"`
	Pages  int         `json:"pages"`
	Size   int64       `json:"size"`
	// Litestream-compatibility findings (do not fail unless --litestream).
	Litestream []string `json:"litestream,omitempty"`
}

// rawHeader parses the 100-byte header without validating it.
func rawHeader(path string) (ltx.Header, error) {
	f, err := os.Open(path)
	if err != nil {
		return ltx.Header{}, err
	}
	defer f.Close()
	var hdr ltx.Header
	b := make([]byte, ltx.HeaderSize)
	if _, err := io.ReadFull(f, b); err != nil {
		return hdr, fmt.Errorf("read header: %w", err)
	}
	if err := hdr.UnmarshalBinary(b); err != nil {
		return hdr, err
	}
	return hdr, nil
}

// rawTrailer reads the last 16 bytes.
func rawTrailer(path string) (ltx.Trailer, error) {
	var t ltx.Trailer
	b, err := os.ReadFile(path)
	if err != nil {
		return t, err
	}
	if len(b) < ltx.TrailerSize {
		return t, io.ErrUnexpectedEOF
	}
	err = t.UnmarshalBinary(b[len(b)-ltx.TrailerSize:])
	return t, err
}

// litestreamFindings lists what Litestream v0.5 (NoChecksum everywhere) would trip over.
func litestreamFindings(path string, h ltx.Header, t ltx.Trailer) []string {
	var out []string
	if !h.NoChecksum() {
		out = append(out, "header flags lack NoChecksum (0x2): Litestream writes NoChecksum on every file")
	}
	// What a Litestream compaction (output HeaderFlags=NoChecksum) does with this file as FIRST input:
	// output PreApplyChecksum = first input's -> ltx.Header.Validate on EncodeHeader.
	if !h.IsSnapshot() && h.PreApplyChecksum != 0 {
		out = append(out, fmt.Sprintf("preApplyChecksum=%s != 0: as first input of a NoChecksum compaction (restore from it, L(n)->L(n+1)) -> \"write header: pre-apply checksum not allowed\"", h.PreApplyChecksum))
	}
	// As LAST input: output PostApplyChecksum = last input's -> Trailer.Validate on Close.
	if t.PostApplyChecksum != 0 {
		out = append(out, fmt.Sprintf("postApplyChecksum=%s != 0: as last input of a NoChecksum compaction (restore, L0->L1...) -> \"close encoder: validate trailer: post-apply checksum not allowed\"", t.PostApplyChecksum))
	}
	if h.NoChecksum() && t.PostApplyChecksum != 0 {
		out = append(out, "NoChecksum header with non-zero postApplyChecksum (reference encoder refuses to write this: \"post-apply checksum not allowed\")")
	}
	base := filepath.Base(path)
	if filepath.Base(filepath.Dir(path)) == "0" && filepath.Base(filepath.Dir(filepath.Dir(path))) == "ltx" {
		// Level-0 file: what Litestream's takeover (DB.verify) needs if it is the newest L0 file.
		if h.MinTXID != h.MaxTXID {
			out = append(out, fmt.Sprintf("L0-takeover: L0 file spans TXIDs %s-%s: if it is the newest L0 file, DB.verify opens LTXPath(0, %s, %s) -> \"open ltx file: no such file\" (Litestream L0 files are N-N)", h.MinTXID, h.MaxTXID, h.MaxTXID, h.MaxTXID))
		}
		if off := h.WALOffset + h.WALSize; off != WALHeaderSize && off-(int64(h.PageSize)+WALFrameHeaderSize) < WALHeaderSize && off >= 0 {
			out = append(out, fmt.Sprintf("L0-takeover: WALOffset+WALSize=%d: if it is the newest L0 file and <= the new primary's WAL size, DB.verify fails \"prev WAL offset is less than the header size: %d\" (safe values: exactly 32, or >= 32+pageSize+24)", off, off-(int64(h.PageSize)+WALFrameHeaderSize)))
		}
	}
	if min, max, err := ltx.ParseFilename(base); err == nil {
		if min != h.MinTXID || max != h.MaxTXID {
			out = append(out, fmt.Sprintf("file name %s does not match header TXIDs %s-%s", base, h.MinTXID, h.MaxTXID))
		}
	}
	return out
}

// ruleOf extracts the innermost reference rule text from a wrapped error.
func ruleOf(err error) string {
	if err == nil {
		return ""
	}
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err.Error()
		}
		err = u
	}
}

func verifyFile(path string, litestream bool) VerifyResult {
	res := VerifyResult{File: path}
	if fi, err := os.Stat(path); err == nil {
		res.Size = fi.Size()
	}
	f, err := os.Open(path)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	defer f.Close()
	dec := ltx.NewDecoder(f)
	err = dec.Verify()
	hdr := dec.Header()
	res.Pages = dec.PageN()
	if err != nil {
		res.Error = err.Error()
		res.Rule = ruleOf(err)
		if h, herr := rawHeader(path); herr == nil {
			hj := headerJSON(h, nil)
			if t, terr := rawTrailer(path); terr == nil {
				hj = headerJSON(h, &t)
				res.Litestream = litestreamFindings(path, h, t)
			}
			res.Header = &hj
		}
		return res
	}
	tr := dec.Trailer()
	hj := headerJSON(hdr, &tr)
	res.Header = &hj
	res.Litestream = litestreamFindings(path, hdr, tr)
	res.OK = true
	if litestream {
		var failing []string
		for _, l := range res.Litestream {
			if skipL0Takeover && strings.HasPrefix(l, "L0-takeover:") {
				continue // judged by the takeover check on the newest L0 file only
			}
			failing = append(failing, l)
		}
		if len(failing) > 0 {
			res.OK = false
			res.Error = "litestream compatibility: " + strings.Join(failing, "; ")
			res.Rule = failing[0]
		}
	}
	return res
}

// skipL0Takeover: in `check`, the conditional L0-takeover findings are judged by the takeover step instead.
var skipL0Takeover bool

func printHeaderText(h *HeaderJSON, indent string) {
	fmt.Printf("%sflags=%s noChecksum=%v pageSize=%d commit=%d minTXID=%s maxTXID=%s timestamp=%d (%s)\n",
		indent, h.Flags, h.NoChecksum, h.PageSize, h.Commit, h.MinTXID, h.MaxTXID, h.Timestamp, h.TimestampUTC)
	fmt.Printf("%spreApply=%s postApply=%s fileChecksum=%s\n", indent, h.PreApplyChecksum, h.PostApplyChecksum, h.FileChecksum)
	fmt.Printf("%swalOffset=%d walSize=%d walSalt1=%s walSalt2=%s nodeID=%s\n", indent, h.WALOffset, h.WALSize, h.WALSalt1, h.WALSalt2, h.NodeID)
}

func cmdVerify(args []string) bool {
	fs := flag.NewFlagSet("verify", flag.ExitOnError)
	litestream := fs.Bool("litestream", false, "also fail on Litestream-compatibility findings")
	_ = fs.Parse(args)
	if fs.NArg() == 0 {
		usage()
		os.Exit(2)
	}
	allOK := true
	var results []VerifyResult
	for _, p := range fs.Args() {
		r := verifyFile(p, *litestream)
		if !r.OK {
			allOK = false
		}
		results = append(results, r)
	}
	emit(results, func() {
		for _, r := range results {
			status := "OK  "
			if !r.OK {
				status = "FAIL"
			}
			fmt.Printf("%s %s (%d bytes, %d pages)\n", status, r.File, r.Size, r.Pages)
			if r.Error != "" && !strings.HasPrefix(r.Error, "litestream compatibility") {
				fmt.Printf("     error: %s\n", r.Error)
				fmt.Printf("     rule:  %s\n", r.Rule)
			} else if r.Error != "" {
				fmt.Printf("     reference decoder: OK; failing Litestream-compatibility findings below\n")
			}
			if r.Header != nil {
				printHeaderText(r.Header, "     ")
			}
			for _, l := range r.Litestream {
				fmt.Printf("     litestream: %s\n", l)
			}
		}
	})
	return allOK
}

// ---------------------------------------------------------------- replica listing (file client)

type fileInfo struct {
	ltx.FileInfo
	Path string
}

// listLevel mimics FileReplicaClient.LTXFiles(level, seek): files named
// <min>-<max>.ltx in <root>/ltx/<level>/, sorted by (min,max), MinTXID >= seek.
// CreatedAt = file mtime (the file client sets mtime to the header timestamp).
func listLevel(root string, level int, seek ltx.TXID) ([]*fileInfo, []string, error) {
	dir := filepath.Join(root, "ltx", strconv.Itoa(level))
	ents, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil, nil
	} else if err != nil {
		return nil, nil, err
	}
	var out []*fileInfo
	var ignored []string
	for _, ent := range ents {
		if ent.IsDir() {
			continue
		}
		min, max, err := ltx.ParseFilename(ent.Name())
		if err != nil {
			ignored = append(ignored, filepath.Join(dir, ent.Name()))
			continue
		}
		if min < seek {
			continue
		}
		fi, err := ent.Info()
		if err != nil {
			return nil, nil, err
		}
		out = append(out, &fileInfo{
			FileInfo: ltx.FileInfo{Level: level, MinTXID: min, MaxTXID: max, Size: fi.Size(), CreatedAt: fi.ModTime().UTC()},
			Path:     filepath.Join(dir, ent.Name()),
		})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].MinTXID != out[j].MinTXID {
			return out[i].MinTXID < out[j].MinTXID
		}
		return out[i].MaxTXID < out[j].MaxTXID
	})
	return out, ignored, nil
}

// ---------------------------------------------------------------- CalcRestorePlan (Litestream v0.5, replica.go)

var ErrTxNotAvailable = errors.New("transaction not available")

type restoreLevelCursor struct {
	items     []*fileInfo
	current   *fileInfo
	candidate *fileInfo
	done      bool
}

func (c *restoreLevelCursor) ensureCurrent() {
	if c.done || c.current != nil {
		return
	}
	if len(c.items) == 0 {
		c.done = true
		return
	}
	c.current, c.items = c.items[0], c.items[1:]
}

func (c *restoreLevelCursor) refresh(currentMax, txID ltx.TXID) {
	if c.done {
		return
	}
	if c.candidate != nil && c.candidate.MaxTXID <= currentMax {
		c.candidate = nil
	}
	for {
		c.ensureCurrent()
		if c.done {
			return
		}
		info := c.current
		if info.MinTXID > currentMax+1 {
			return
		}
		c.current = nil
		if info.MaxTXID <= currentMax {
			continue
		}
		if txID != 0 && info.MaxTXID > txID {
			continue
		}
		if c.candidate == nil || restoreCandidateBetter(c.candidate, info) {
			c.candidate = info
		}
	}
}

func restoreCandidateBetter(curr, next *fileInfo) bool {
	if next.MaxTXID != curr.MaxTXID {
		return next.MaxTXID > curr.MaxTXID
	}
	if next.MinTXID != curr.MinTXID {
		return next.MinTXID < curr.MinTXID
	}
	if next.Level != curr.Level {
		return next.Level > curr.Level
	}
	return next.CreatedAt.Before(curr.CreatedAt)
}

// calcRestorePlan reproduces litestream.CalcRestorePlan for a TXID target (0 = latest), no timestamp.
func calcRestorePlan(root string, txID ltx.TXID) ([]*fileInfo, error) {
	var infos []*fileInfo
	maxOf := func() ltx.TXID {
		if len(infos) == 0 {
			return 0
		}
		return infos[len(infos)-1].MaxTXID
	}

	snaps, _, err := listLevel(root, SnapshotLevel, 0)
	if err != nil {
		return nil, err
	}
	var snapshot *fileInfo
	for _, info := range snaps {
		if txID != 0 && info.MaxTXID > txID {
			continue
		}
		snapshot = info
	}
	if snapshot != nil {
		infos = append(infos, snapshot)
	}

	const maxLevel = SnapshotLevel - 1
	currentMax := maxOf()
	if txID != 0 && currentMax >= txID {
		return infos, nil
	}

	var cursors []*restoreLevelCursor
	for level := maxLevel; level >= 0; level-- {
		items, _, err := listLevel(root, level, 0)
		if err != nil {
			return nil, err
		}
		cursors = append(cursors, &restoreLevelCursor{items: items})
	}

	for {
		var next *restoreLevelCursor
		for _, cursor := range cursors {
			cursor.refresh(currentMax, txID)
			if cursor.candidate == nil {
				continue
			}
			if next == nil || restoreCandidateBetter(next.candidate, cursor.candidate) {
				next = cursor
			}
		}
		if next == nil || next.candidate == nil {
			break
		}
		if next.candidate.MaxTXID <= currentMax {
			next.candidate = nil
			continue
		}
		infos = append(infos, next.candidate)
		currentMax = next.candidate.MaxTXID
		next.candidate = nil
		if txID != 0 && currentMax >= txID {
			break
		}
	}

	if len(infos) > 0 && txID == 0 {
		for _, cursor := range cursors {
			cursor.ensureCurrent()
			if cursor.current != nil && cursor.current.MinTXID > currentMax+1 {
				return nil, fmt.Errorf("non-contiguous ltx files: have up to %s but next file starts at %s", currentMax, cursor.current.MinTXID)
			}
		}
	}

	if len(infos) == 0 {
		return nil, ErrTxNotAvailable
	}
	if txID != 0 && maxOf() < txID {
		return nil, ErrTxNotAvailable
	}
	return infos, nil
}

// ---------------------------------------------------------------- restore

type PlanEntry struct {
	Level   int    `json:"level"`
	MinTXID string `json:"minTXID"`
	MaxTXID string `json:"maxTXID"`
	Size    int64  `json:"size"`
	Path    string `json:"path"`
}

type RestoreResult struct {
	Root       string      `json:"root"`
	OK         bool        `json:"ok"`
	Error      string      `json:"error,omitempty"`
	Stage      string      `json:"stage,omitempty"`
	Plan       []PlanEntry `json:"plan"`
	CompactErr string      `json:"compactError,omitempty"`
	// Per-file diagnosis when restore fails (which plan file breaks which rule).
	Diagnosis []VerifyResult `json:"diagnosis,omitempty"`
	Output    string         `json:"output,omitempty"`
	OutSize   int64          `json:"outSize,omitempty"`
	OutPages  int64          `json:"outPages,omitempty"`
	OutSHA256 string         `json:"outSHA256,omitempty"`
	OutHeader *HeaderJSON    `json:"compactedHeader,omitempty"`
	Ignored   []string       `json:"ignoredNames,omitempty"`
	ElapsedMS int64          `json:"elapsedMs"`
}

func planEntries(plan []*fileInfo) []PlanEntry {
	var out []PlanEntry
	for _, p := range plan {
		out = append(out, PlanEntry{Level: p.Level, MinTXID: p.MinTXID.String(), MaxTXID: p.MaxTXID.String(), Size: p.Size, Path: p.Path})
	}
	return out
}

// compactTo runs ltx.NewCompactor over the files (in the given order) into w with the given header flags.
func compactFiles(paths []string, w io.Writer, flags uint32) (ltx.Header, error) {
	var rdrs []io.Reader
	var files []*os.File
	defer func() {
		for _, f := range files {
			_ = f.Close()
		}
	}()
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return ltx.Header{}, err
		}
		files = append(files, f)
		rdrs = append(rdrs, f)
	}
	c, err := ltx.NewCompactor(w, rdrs)
	if err != nil {
		return ltx.Header{}, fmt.Errorf("new ltx compactor: %w", err)
	}
	c.HeaderFlags = flags
	err = c.Compact(context.Background())
	return c.Header(), err
}

// restore reproduces Replica.Restore (file client, latest or txID): plan -> size check ->
// Compactor(NoChecksum) through a pipe -> Decoder.DecodeDatabaseTo(tmp) -> rename.
func restore(root, out string, txID ltx.TXID) (res RestoreResult) {
	t0 := time.Now()
	res = RestoreResult{Root: root}
	defer func() { res.ElapsedMS = time.Since(t0).Milliseconds() }()

	for level := 0; level <= SnapshotLevel; level++ {
		_, ign, _ := listLevel(root, level, 0)
		res.Ignored = append(res.Ignored, ign...)
	}

	plan, err := calcRestorePlan(root, txID)
	res.Plan = planEntries(plan)
	if err != nil {
		res.Stage = "CalcRestorePlan"
		res.Error = fmt.Sprintf("cannot calc restore plan: %s", err)
		return res
	}
	for _, info := range plan {
		if info.Size < ltx.HeaderSize {
			res.Stage = "plan size check"
			res.Error = fmt.Sprintf("invalid ltx file: level=%d min=%s max=%s has size %d bytes (minimum %d)", info.Level, info.MinTXID, info.MaxTXID, info.Size, ltx.HeaderSize)
			return res
		}
	}
	if _, err := os.Stat(out); err == nil {
		res.Stage = "output"
		res.Error = fmt.Sprintf("cannot restore, output path already exists: %s", out)
		return res
	}

	tmp := out + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		res.Stage = "output"
		res.Error = err.Error()
		return res
	}
	defer func() { _ = f.Close(); _ = os.Remove(tmp) }()

	var paths []string
	for _, p := range plan {
		paths = append(paths, p.Path)
	}
	pr, pw := io.Pipe()
	compactDone := make(chan error, 1)
	var outHdr ltx.Header
	go func() {
		h, err := compactFiles(paths, pw, ltx.HeaderFlagNoChecksum)
		outHdr = h
		_ = pw.CloseWithError(err)
		compactDone <- err
	}()
	dec := ltx.NewDecoder(pr)
	decErr := dec.DecodeDatabaseTo(f)
	if decErr != nil {
		_, _ = io.Copy(io.Discard, pr) // let the compactor finish
	}
	cErr := <-compactDone
	res.CompactErr = errStr(cErr)
	if decErr != nil {
		res.Stage = "compact+decode"
		res.Error = fmt.Sprintf("decode database: %s", decErr)
		if cErr == nil && strings.Contains(decErr.Error(), "decode header: EOF") {
			res.Error += " (the ltx Compactor returned nil without output: it silently returns when an input header fails validation)"
		}
		// Diagnose each plan file with the reference decoder + Litestream findings.
		for _, p := range plan {
			res.Diagnosis = append(res.Diagnosis, verifyFile(p.Path, false))
		}
		return res
	}
	if err := f.Sync(); err != nil {
		res.Error = err.Error()
		return res
	}
	if err := f.Close(); err != nil {
		res.Error = err.Error()
		return res
	}
	if err := os.Rename(tmp, out); err != nil {
		res.Error = err.Error()
		return res
	}
	hj := headerJSON(outHdr, nil)
	res.OutHeader = &hj
	res.Output = out
	if b, err := os.ReadFile(out); err == nil {
		sum := sha256.Sum256(b)
		res.OutSHA256 = hex.EncodeToString(sum[:])
		res.OutSize = int64(len(b))
		if outHdr.PageSize > 0 {
			res.OutPages = int64(len(b)) / int64(outHdr.PageSize)
		}
	}
	res.OK = true
	return res
}

func printPlan(plan []PlanEntry) {
	fmt.Printf("restore plan (%d files):\n", len(plan))
	for _, p := range plan {
		fmt.Printf("  L%d %s-%s %d bytes  %s\n", p.Level, p.MinTXID, p.MaxTXID, p.Size, p.Path)
	}
}

func printRestore(r RestoreResult) {
	printPlan(r.Plan)
	for _, i := range r.Ignored {
		fmt.Printf("  (ignored, not a <16hex>-<16hex>.ltx name: %s)\n", i)
	}
	if r.OK {
		fmt.Printf("RESTORE OK -> %s (%d bytes, %d pages, sha256 %s) in %d ms\n", r.Output, r.OutSize, r.OutPages, r.OutSHA256, r.ElapsedMS)
		return
	}
	fmt.Printf("RESTORE FAIL at %s: %s\n", r.Stage, r.Error)
	if r.CompactErr != "" {
		fmt.Printf("  compactor error: %s\n", r.CompactErr)
	}
	for _, d := range r.Diagnosis {
		status := "ok  "
		if !d.OK {
			status = "FAIL"
		}
		fmt.Printf("  [%s] %s", status, d.File)
		if d.Error != "" {
			fmt.Printf(": %s", d.Error)
		}
		fmt.Println()
		for _, l := range d.Litestream {
			fmt.Printf("        litestream: %s\n", l)
		}
	}
}

func cmdRestore(args []string) bool {
	fs := flag.NewFlagSet("restore", flag.ExitOnError)
	txidStr := fs.String("txid", "", "restore up to this TXID (16-hex or decimal); default latest")
	_ = fs.Parse(args)
	if fs.NArg() != 2 {
		usage()
		os.Exit(2)
	}
	var txID ltx.TXID
	if *txidStr != "" {
		v, err := parseTXID(*txidStr)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		txID = v
	}
	r := restore(fs.Arg(0), fs.Arg(1), txID)
	emit(r, func() { printRestore(r) })
	return r.OK
}

func parseTXID(s string) (ltx.TXID, error) {
	if len(s) == 16 {
		return ltx.ParseTXID(s)
	}
	v, err := strconv.ParseUint(s, 10, 64)
	return ltx.TXID(v), err
}

// ---------------------------------------------------------------- takeover

type Step struct {
	Step   string `json:"step"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

type LevelCheck struct {
	Level   int            `json:"level"`
	Files   int            `json:"files"`
	Whole   string         `json:"wholeLevelCompaction"` // "ok" or error
	PerFile []VerifyResult `json:"perFile,omitempty"`
	Errors  []string       `json:"errors,omitempty"`
}

type TakeoverResult struct {
	Root     string       `json:"root"`
	OK       bool         `json:"ok"`
	WALSize  int64        `json:"walSize"`
	Branch   string       `json:"branch"`
	Error    string       `json:"error,omitempty"`
	Steps    []Step       `json:"steps"`
	Levels   []LevelCheck `json:"levels"`
	NextL1   string       `json:"nextL0toL1Compaction"`
	Retained string       `json:"l0Retention"`
}

func (r *TakeoverResult) step(name string, ok bool, format string, a ...interface{}) {
	r.Steps = append(r.Steps, Step{Step: name, OK: ok, Detail: fmt.Sprintf(format, a...)})
}

func takeover(root string, walSize int64, pageSizeArg int) TakeoverResult {
	res := TakeoverResult{Root: root, WALSize: walSize}
	l0, _, err := listLevel(root, 0, 0)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	levelFiles := map[int][]*fileInfo{0: l0}
	for level := 1; level <= SnapshotLevel; level++ {
		fs, _, err := listLevel(root, level, 0)
		if err != nil {
			res.Error = err.Error()
			return res
		}
		levelFiles[level] = fs
	}

	res.OK = true
	fail := func(format string, a ...interface{}) {
		res.OK = false
		if res.Error == "" {
			res.Error = fmt.Sprintf(format, a...)
		}
	}

	// 1. checkDatabaseBehindReplica: Replica.MaxLTXFileInfo(ctx, 0) = L0 file with the highest MaxTXID.
	var maxL0 *fileInfo
	for _, fi := range l0 {
		if maxL0 == nil || fi.MaxTXID > maxL0.MaxTXID {
			maxL0 = fi
		}
	}
	if maxL0 != nil && walSize < 0 {
		ps := int64(4096)
		if h, err := rawHeader(maxL0.Path); err == nil && h.PageSize > 0 {
			ps = int64(h.PageSize)
		}
		if pageSizeArg > 0 {
			ps = int64(pageSizeArg)
		}
		walSize = WALHeaderSize + ps + WALFrameHeaderSize
		res.WALSize = walSize
	}
	if maxL0 == nil {
		res.Branch = "no L0 files: replicaInfo.MaxTXID == 0 -> 'no remote replica data yet'; a new primary starts at TXID 1 (its L0 0000000000000001 snapshot would collide with existing higher levels)"
		res.step("checkDatabaseBehindReplica", true, "%s", res.Branch)
	} else {
		res.step("checkDatabaseBehindReplica", true, "replica max L0 = %s (level 0, %s-%s); fresh db pos 0 < %s -> clear local L0, copy it to LTXPath(0, %s, %s)",
			filepath.Base(maxL0.Path), maxL0.MinTXID, maxL0.MaxTXID, maxL0.MaxTXID, maxL0.MinTXID, maxL0.MaxTXID)

		// 2. DB.Pos(): ltx.NewDecoder(f).Verify() on the max local L0 file.
		vr := verifyFile(maxL0.Path, false)
		var pos ltx.Pos
		if !vr.OK {
			res.step("DB.Pos", false, "ltx verification failed: %s", vr.Error)
			fail("DB.Pos: ltx verification failed (%s): %s", maxL0.Path, vr.Error)
		} else {
			f, _ := os.Open(maxL0.Path)
			dec := ltx.NewDecoder(f)
			_ = dec.Verify()
			f.Close()
			pos = dec.PostApplyPos()
			res.step("DB.Pos", true, "pos = %s", pos)
		}

		if res.OK {
			// 3. DB.verify: os.Open(LTXPath(0, pos.TXID, pos.TXID)).
			want := filepath.Join(root, "ltx", "0", ltx.FormatFilename(pos.TXID, pos.TXID))
			if maxL0.MinTXID != maxL0.MaxTXID {
				res.step("DB.verify open", false, "open ltx file: %s: no such file or directory (max L0 file is %s-%s; verify() opens LTXPath(0, %s, %s), so L0 files must be N-N)",
					want, maxL0.MinTXID, maxL0.MaxTXID, pos.TXID, pos.TXID)
				fail("cannot verify wal state: open ltx file: %s: no such file or directory (max L0 name is not N-N)", ltx.FormatFilename(pos.TXID, pos.TXID))
			} else {
				f, err := os.Open(maxL0.Path)
				if err != nil {
					fail("open: %s", err)
				} else {
					dec := ltx.NewDecoder(f)
					err := dec.DecodeHeader()
					f.Close()
					if err != nil {
						res.step("DB.verify decode header", false, "decode ltx file: %s", err)
						fail("cannot verify wal state: decode ltx file: %s", err)
					} else {
						h := dec.Header()
						pageSize := int64(h.PageSize)
						if pageSizeArg > 0 {
							pageSize = int64(pageSizeArg)
						}
						frameSize := pageSize + WALFrameHeaderSize
						if walSize < 0 {
							walSize = WALHeaderSize + frameSize
							res.WALSize = walSize
						}
						offset := h.WALOffset + h.WALSize
						res.step("DB.verify header", true, "WALOffset=%d WALSize=%d -> info.offset=%d; salts %08x/%08x; local WAL size %d (random salts), frameSize %d",
							h.WALOffset, h.WALSize, offset, h.WALSalt1, h.WALSalt2, walSize, frameSize)
						switch {
						case offset > walSize:
							res.Branch = "wal truncated by another process"
							res.step("DB.verify branch", true, "info.offset %d > wal size %d -> reason %q -> snapshot at TXID %s (continues)", offset, walSize, res.Branch, pos.TXID+1)
						case offset == WALHeaderSize:
							res.Branch = "wal header salt reset, snapshotting"
							res.step("DB.verify branch", true, "info.offset == 32, salts differ -> %q -> snapshot at TXID %s (continues)", res.Branch, pos.TXID+1)
						default:
							prev := offset - frameSize
							if prev == WALHeaderSize {
								res.Branch = "wal header salt reset, snapshotting"
								res.step("DB.verify branch", true, "prevWALOffset == 32, salts differ -> %q (continues)", res.Branch)
							} else if prev < WALHeaderSize {
								res.Branch = fmt.Sprintf("prev WAL offset is less than the header size: %d", prev)
								res.step("DB.verify branch", false, "ERROR %q: Sync fails with 'cannot verify wal state: prev WAL offset is less than the header size: %d' on every sync; replication never resumes", res.Branch, prev)
								fail("cannot verify wal state: prev WAL offset is less than the header size: %d", prev)
							} else {
								res.Branch = "last page does not exist in last ltx file, wal overwritten by another process"
								res.step("DB.verify branch", true, "lastPageMatch: WAL frame at %d has other salts -> %q -> snapshot (continues)", prev, res.Branch)
							}
						}
					}
				}
			}
		}
	}

	// L0 retention (EnforceL0RetentionByTime): name/time based only, never decodes a file. With every file older
	// than L0Retention: delete L0 files with MaxTXID <= max L1 TXID, except the newest L0 file.
	{
		var maxL1 ltx.TXID
		for _, fi := range levelFiles[1] {
			if fi.MaxTXID > maxL1 {
				maxL1 = fi.MaxTXID
			}
		}
		var del []string
		for i, fi := range l0 {
			if fi.MaxTXID <= maxL1 && !(i == len(l0)-1) {
				del = append(del, filepath.Base(fi.Path))
			}
		}
		switch {
		case len(l0) == 0:
			res.Retained = "no L0 files"
		case maxL1 == 0:
			res.Retained = "no L1 files: nothing deleted (retention waits for L1)"
		default:
			res.Retained = fmt.Sprintf("max L1 TXID %s; once older than L0Retention these L0 files would be deleted: %v; newest L0 %s always kept (name/time-based, accepts any file)", maxL1, del, filepath.Base(l0[len(l0)-1].Path))
		}
	}

	// Litestream L0->L1 compaction: inputs = L0 files with MinTXID >= max(L1).MaxTXID+1, NoChecksum output.
	var l1Max ltx.TXID
	for _, fi := range levelFiles[1] {
		if fi.MaxTXID > l1Max {
			l1Max = fi.MaxTXID
		}
	}
	var nextIn []string
	for _, fi := range l0 {
		if fi.MinTXID >= l1Max+1 {
			nextIn = append(nextIn, fi.Path)
		}
	}
	if len(nextIn) == 0 {
		res.NextL1 = fmt.Sprintf("no L0 files after L1 max %s (ErrNoCompaction)", l1Max)
	} else {
		var buf bytes.Buffer
		h, err := compactFiles(nextIn, &buf, ltx.HeaderFlagNoChecksum)
		switch {
		case err != nil:
			res.NextL1 = fmt.Sprintf("FAIL (%d inputs from L0 after L1 max %s): %s", len(nextIn), l1Max, err)
			fail("L0->L1 compaction: %s", err)
		case buf.Len() == 0:
			res.NextL1 = fmt.Sprintf("FAIL (%d inputs): compactor returned nil but wrote nothing (an input header failed validation; Litestream's WriteLTXFile then fails reading the header: EOF)", len(nextIn))
			fail("L0->L1 compaction wrote nothing (input header invalid)")
		default:
			res.NextL1 = fmt.Sprintf("ok (%d inputs -> %s-%s, %d bytes)", len(nextIn), h.MinTXID, h.MaxTXID, buf.Len())
		}
	}

	// Whole-level and per-file compaction checks.
	for level := 0; level <= SnapshotLevel; level++ {
		files := levelFiles[level]
		if len(files) == 0 {
			continue
		}
		lc := LevelCheck{Level: level, Files: len(files)}
		var paths []string
		for _, fi := range files {
			paths = append(paths, fi.Path)
		}
		var buf bytes.Buffer
		_, err := compactFiles(paths, &buf, ltx.HeaderFlagNoChecksum)
		if err != nil {
			lc.Whole = err.Error()
		} else if buf.Len() == 0 {
			lc.Whole = "compactor wrote nothing (an input header failed validation)"
		} else {
			lc.Whole = "ok"
		}
		if lc.Whole != "ok" && level != SnapshotLevel {
			// L9 snapshots are never compacted together by Litestream; only report.
			res.OK = false
			if res.Error == "" {
				res.Error = fmt.Sprintf("L%d compaction: %s", level, lc.Whole)
			}
		}
		for _, fi := range files {
			vr := verifyFile(fi.Path, false)
			var b bytes.Buffer
			_, err := compactFiles([]string{fi.Path}, &b, ltx.HeaderFlagNoChecksum)
			if err != nil {
				lc.Errors = append(lc.Errors, fmt.Sprintf("%s: compact alone: %s", filepath.Base(fi.Path), err))
			} else if b.Len() == 0 {
				lc.Errors = append(lc.Errors, fmt.Sprintf("%s: compact alone: wrote nothing (header rejected: %s)", filepath.Base(fi.Path), vr.Error))
			}
			if !vr.OK || len(vr.Litestream) > 0 {
				lc.PerFile = append(lc.PerFile, vr)
			}
		}
		if len(lc.Errors) > 0 {
			res.OK = false
			if res.Error == "" {
				res.Error = fmt.Sprintf("L%d: %s", level, lc.Errors[0])
			}
		}
		res.Levels = append(res.Levels, lc)
	}
	return res
}

func printTakeover(r TakeoverResult) {
	fmt.Printf("takeover check of %s (local WAL size %d, random salts)\n", r.Root, r.WALSize)
	for _, s := range r.Steps {
		st := "ok  "
		if !s.OK {
			st = "FAIL"
		}
		fmt.Printf("  [%s] %s: %s\n", st, s.Step, s.Detail)
	}
	fmt.Printf("  litestream verify branch: %s\n", r.Branch)
	fmt.Printf("  L0 retention: %s\n", r.Retained)
	fmt.Printf("  next L0->L1 compaction: %s\n", r.NextL1)
	for _, l := range r.Levels {
		fmt.Printf("  L%d: %d files, whole-level NoChecksum compaction: %s\n", l.Level, l.Files, l.Whole)
		for _, e := range l.Errors {
			fmt.Printf("      %s\n", e)
		}
		for _, v := range l.PerFile {
			if v.Error != "" {
				fmt.Printf("      %s: reference decoder: %s\n", filepath.Base(v.File), v.Error)
			}
		}
	}
	fmt.Println("  (per-file Litestream findings: ltxcheck verify <files> or --json)")
	if r.OK {
		fmt.Println("TAKEOVER OK")
	} else {
		fmt.Printf("TAKEOVER FAIL: %s\n", r.Error)
	}
}

func cmdTakeover(args []string) bool {
	fs := flag.NewFlagSet("takeover", flag.ExitOnError)
	walSize := fs.Int64("wal-size", -1, "local WAL size in bytes (default 32 + one frame of the header's page size)")
	pageSize := fs.Int("page-size", 0, "local database page size (default: the LTX header's)")
	_ = fs.Parse(args)
	if fs.NArg() != 1 {
		usage()
		os.Exit(2)
	}
	r := takeover(fs.Arg(0), *walSize, *pageSize)
	emit(r, func() { printTakeover(r) })
	return r.OK
}

// ---------------------------------------------------------------- compact / reencode

type CompactResult struct {
	OK     bool        `json:"ok"`
	Error  string      `json:"error,omitempty"`
	Output string      `json:"output"`
	Inputs []string    `json:"inputs"`
	Header *HeaderJSON `json:"header,omitempty"`
	Size   int64       `json:"size"`
}

func writeAtomically(out string, fn func(w io.Writer) error) (int64, error) {
	tmp := out + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp)
	if err := fn(f); err != nil {
		f.Close()
		return 0, err
	}
	fi, _ := f.Stat()
	if err := f.Close(); err != nil {
		return 0, err
	}
	return fi.Size(), os.Rename(tmp, out)
}

func cmdCompact(args []string) bool {
	fs := flag.NewFlagSet("compact", flag.ExitOnError)
	flags := fs.Uint("flags", uint(ltx.HeaderFlagNoChecksum), "output header flags (Litestream: 2 = NoChecksum)")
	_ = fs.Parse(args)
	if fs.NArg() < 2 {
		usage()
		os.Exit(2)
	}
	res := CompactResult{Output: fs.Arg(0), Inputs: fs.Args()[1:]}
	var hdr ltx.Header
	size, err := writeAtomically(fs.Arg(0), func(w io.Writer) error {
		h, err := compactFiles(fs.Args()[1:], w, uint32(*flags))
		hdr = h
		return err
	})
	if err == nil && size == 0 {
		err = fmt.Errorf("compactor returned nil but wrote nothing: an input header failed validation")
	}
	if err != nil {
		res.Error = err.Error()
		_ = os.Remove(fs.Arg(0))
	} else {
		res.OK = true
		res.Size = size
		if t, terr := rawTrailer(fs.Arg(0)); terr == nil {
			hj := headerJSON(hdr, &t)
			res.Header = &hj
		}
	}
	emit(res, func() {
		if res.OK {
			fmt.Printf("COMPACT OK -> %s (%d bytes)\n", res.Output, res.Size)
			printHeaderText(res.Header, "  ")
		} else {
			fmt.Printf("COMPACT FAIL: %s\n", res.Error)
		}
	})
	return res.OK
}

// reencode decodes a file with the reference decoder and re-encodes it with the
// reference encoder (same header, pages and post-apply checksum). Used to check
// that this build (ltx + lz4) writes byte-identical output to the reference.
func cmdReencode(args []string) bool {
	if len(args) != 2 {
		usage()
		os.Exit(2)
	}
	in, out := args[0], args[1]
	err := func() error {
		data, err := os.ReadFile(in)
		if err != nil {
			return err
		}
		dec := ltx.NewDecoder(bytes.NewReader(data))
		if err := dec.DecodeHeader(); err != nil {
			return err
		}
		hdr := dec.Header()
		type page struct {
			h ltx.PageHeader
			d []byte
		}
		var pages []page
		for {
			var ph ltx.PageHeader
			buf := make([]byte, hdr.PageSize)
			if err := dec.DecodePage(&ph, buf); err == io.EOF {
				break
			} else if err != nil {
				return err
			}
			pages = append(pages, page{ltx.PageHeader{Pgno: ph.Pgno}, buf})
		}
		if err := dec.Close(); err != nil {
			return err
		}
		_, err = writeAtomically(out, func(w io.Writer) error {
			enc, err := ltx.NewEncoder(w)
			if err != nil {
				return err
			}
			if err := enc.EncodeHeader(hdr); err != nil {
				return err
			}
			for _, p := range pages {
				if err := enc.EncodePage(p.h, p.d); err != nil {
					return err
				}
			}
			enc.SetPostApplyChecksum(dec.Trailer().PostApplyChecksum)
			return enc.Close()
		})
		return err
	}()
	if err != nil {
		fmt.Printf("REENCODE FAIL %s: %s\n", in, err)
		return false
	}
	a, _ := os.ReadFile(in)
	b, _ := os.ReadFile(out)
	same := bytes.Equal(a, b)
	emit(map[string]interface{}{"input": in, "output": out, "identical": same}, func() {
		fmt.Printf("REENCODE %s -> %s: byte-identical=%v\n", in, out, same)
	})
	return true
}

// ---------------------------------------------------------------- check (all-in-one)

func cmdCheck(args []string) bool {
	fs := flag.NewFlagSet("check", flag.ExitOnError)
	walSize := fs.Int64("wal-size", -1, "local WAL size for the takeover check")
	_ = fs.Parse(args)
	if fs.NArg() != 1 {
		usage()
		os.Exit(2)
	}
	root := fs.Arg(0)
	var all []string
	for level := 0; level <= SnapshotLevel; level++ {
		files, _, _ := listLevel(root, level, 0)
		for _, f := range files {
			all = append(all, f.Path)
		}
	}
	skipL0Takeover = true
	var vres []VerifyResult
	vok := true
	for _, p := range all {
		r := verifyFile(p, true)
		if !r.OK {
			vok = false
		}
		vres = append(vres, r)
	}
	dir, err := os.MkdirTemp("", "ltxcheck-restore-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return false
	}
	defer os.RemoveAll(dir)
	rr := restore(root, filepath.Join(dir, "restored.db"), 0)
	tr := takeover(root, *walSize, 0)
	ok := vok && rr.OK && tr.OK
	emit(map[string]interface{}{"ok": ok, "verify": vres, "restore": rr, "takeover": tr}, func() {
		fmt.Printf("== verify (--litestream) %d files\n", len(vres))
		for _, r := range vres {
			if r.OK {
				fmt.Printf("  OK   %s\n", r.File)
			} else {
				fmt.Printf("  FAIL %s: %s\n", r.File, r.Error)
			}
		}
		fmt.Println("== restore")
		printRestore(rr)
		fmt.Println("== takeover")
		printTakeover(tr)
		if ok {
			fmt.Println("== CHECK OK")
		} else {
			fmt.Println("== CHECK FAIL")
		}
	})
	return ok
}

// cmdEncodeDB writes a SQLite database file as a snapshot LTX file (MinTXID 1) with the reference encoder,
// as Litestream's snapshot writer does (NoChecksum), to make reference/positive-control files.
func cmdEncodeDB(args []string) bool {
	fs := flag.NewFlagSet("encodedb", flag.ExitOnError)
	txidStr := fs.String("txid", "1", "max TXID of the snapshot (min is 1)")
	checksum := fs.Bool("checksum", false, "track checksums (flags 0) instead of NoChecksum")
	walOffset := fs.Int64("wal-offset", 0, "header WALOffset")
	walSize := fs.Int64("wal-size", 0, "header WALSize")
	_ = fs.Parse(args)
	if fs.NArg() != 2 {
		usage()
		os.Exit(2)
	}
	maxTXID, err := parseTXID(*txidStr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	data, err := os.ReadFile(fs.Arg(0))
	if err == nil && len(data) < 100 {
		err = fmt.Errorf("not a SQLite database: %s", fs.Arg(0))
	}
	if err != nil {
		fmt.Println("ENCODEDB FAIL:", err)
		return false
	}
	pageSize := uint32(data[16])<<8 | uint32(data[17])
	if pageSize == 1 {
		pageSize = 65536
	}
	commit := uint32(len(data) / int(pageSize))
	flags := ltx.HeaderFlagNoChecksum
	if *checksum {
		flags = 0
	}
	_, err = writeAtomically(fs.Arg(1), func(w io.Writer) error {
		enc, err := ltx.NewEncoder(w)
		if err != nil {
			return err
		}
		if err := enc.EncodeHeader(ltx.Header{Version: ltx.Version, Flags: flags, PageSize: pageSize, Commit: commit,
			MinTXID: 1, MaxTXID: maxTXID, Timestamp: time.Now().UnixMilli(), WALOffset: *walOffset, WALSize: *walSize}); err != nil {
			return err
		}
		chk := ltx.ChecksumFlag
		lock := ltx.LockPgno(pageSize)
		for pgno := uint32(1); pgno <= commit; pgno++ {
			if pgno == lock {
				continue
			}
			page := data[int64(pgno-1)*int64(pageSize) : int64(pgno)*int64(pageSize)]
			if err := enc.EncodePage(ltx.PageHeader{Pgno: pgno}, page); err != nil {
				return err
			}
			chk = ltx.ChecksumFlag | (chk ^ ltx.ChecksumPage(pgno, page))
		}
		if *checksum {
			enc.SetPostApplyChecksum(chk)
		}
		return enc.Close()
	})
	if err != nil {
		fmt.Println("ENCODEDB FAIL:", err)
		return false
	}
	fmt.Printf("ENCODEDB OK -> %s (%d pages of %d)\n", fs.Arg(1), commit, pageSize)
	return true
}
