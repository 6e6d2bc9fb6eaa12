package sheet

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/xuri/excelize/v2"
)

// Bounds on an XLSX beyond Limits, fixed because no register comes near them. excelize keeps
// every part other than the worksheets in memory and decodes several of them whole (the
// shared strings, styles, workbook, relationships) into structs that take many times the
// bytes of their XML, so the markup of those parts is counted ('<' characters) before
// excelize sees the file.
const (
	maxZipEntries = 1000
	// maxOtherBytes bounds the inflated parts other than worksheets and shared strings
	// (styles, theme, workbook, drawings, images), all of which excelize holds in memory.
	maxOtherBytes = 32 << 20
	// maxOtherMarkup bounds the elements of those parts: a workbook with its styles and
	// theme has a few thousand.
	maxOtherMarkup = 250_000
	// maxStringsMarkup bounds the elements of the shared strings: about four per distinct
	// text, so 1.5 million is some 375,000 distinct texts.
	maxStringsMarkup = 1_500_000
	// stringsInMemoryMarkup: shared strings with more elements than this are handed to
	// excelize's on-disk table (about 40 bytes of memory per string, but a read from the
	// file for every text cell: half the time of a 100,000-row read) instead of its
	// in-memory one (up to a hundred bytes per element; some 125,000 distinct texts fit).
	stringsInMemoryMarkup = 500_000
	// xmlInMemory bounds the worksheets and shared strings excelize keeps in memory; larger
	// ones go to temporary files and are streamed from there.
	xmlInMemory = 16 << 20
	// cellsPerRow: the sheet read may hold 30 cell elements per allowed row on average
	// (30 × Limits.MaxRows, 3 million by default), formatted empty cells included.
	cellsPerRow = 30
	// maxMerges bounds merged ranges in the sheet read.
	maxMerges = 10_000
)

// zipPart is one part of an XLSX as the pre-scan found it.
type zipPart struct {
	f    *zip.File
	name string // lower case, forward slashes
	size int64
}

// xlsxInfo is what the pre-scan learnt: which sheet to read and how.
type xlsxInfo struct {
	sheet     string // the first visible worksheet's name
	sheetPath string
	date1904  bool
	merges    []mergeRange
	xmlLimit  int64 // excelize's UnzipXMLSizeLimit for this file
}

// openXLSX checks the zip before excelize reads it and returns excelize's file and the
// sheet to read. The caller closes the file (which removes its temporary files).
func openXLSX(data []byte, lim Limits) (*excelize.File, *xlsxInfo, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, nil, fileErr(ErrBrokenFile, "XLSX 文件已损坏（不是有效的 zip 压缩包），请在 Excel 中重新保存",
			"the XLSX file is damaged (not a valid zip archive); save it again in Excel")
	}
	if len(zr.File) > maxZipEntries {
		return nil, nil, fileErr(ErrInflatedTooLarge, "XLSX 文件包含的部件过多（超过 %d 个）",
			"the XLSX file has more than %d parts", maxZipEntries)
	}
	parts := map[string]*zipPart{}
	var total, other int64
	var spillable []*zipPart // worksheets and shared strings, which excelize may put on disk
	for _, f := range zr.File {
		size := int64(f.UncompressedSize64)
		if f.UncompressedSize64 > uint64(lim.MaxUnzipped) || total+size > lim.MaxUnzipped {
			return nil, nil, tooInflated(lim)
		}
		total += size
		p := &zipPart{f: f, name: strings.ToLower(strings.ReplaceAll(f.Name, `\`, "/")), size: size}
		parts[p.name] = p
		switch {
		case strings.HasPrefix(p.name, "xl/worksheets/sheet") || p.name == "xl/sharedstrings.xml":
			spillable = append(spillable, p)
		default:
			other += size
		}
	}
	if other > maxOtherBytes {
		return nil, nil, fileErr(ErrInflatedTooLarge, "XLSX 文件中工作表以外的部分解压后超过 %d MB",
			"the parts of the XLSX other than its sheets inflate to more than %d MB", maxOtherBytes>>20)
	}
	// Count the markup of every part excelize decodes whole; reading them also checks their
	// checksums, which excelize does not report.
	var otherMarkup, stringsMarkup int
	for _, p := range parts {
		if strings.HasPrefix(p.name, "xl/worksheets/") || !isXMLPart(p.name) {
			continue
		}
		limit := maxOtherMarkup - otherMarkup
		if p.name == "xl/sharedstrings.xml" {
			limit = maxStringsMarkup
		}
		n, err := countMarkup(p.f, limit)
		if err != nil {
			return nil, nil, err
		}
		if p.name == "xl/sharedstrings.xml" {
			stringsMarkup = n
		} else {
			otherMarkup += n
		}
	}
	info, err := findSheet(parts)
	if err != nil {
		return nil, nil, err
	}
	if info.merges, err = scanSheet(parts[strings.ToLower(info.sheetPath)], lim.MaxCols, maxCells(lim)); err != nil {
		return nil, nil, err
	}
	info.xmlLimit = inMemoryLimit(spillable, stringsMarkup)
	f, err := excelize.OpenReader(bytes.NewReader(data), excelize.Options{RawCellValue: true,
		UnzipSizeLimit: lim.MaxUnzipped, UnzipXMLSizeLimit: info.xmlLimit})
	if err != nil {
		if f != nil {
			_ = f.Close()
		}
		if strings.Contains(err.Error(), "unzip size") {
			return nil, nil, tooInflated(lim)
		}
		return nil, nil, fileErr(ErrBrokenFile, "XLSX 文件无法读取，请在 Excel 中重新保存",
			"the XLSX file cannot be read; save it again in Excel")
	}
	return f, info, nil
}

func maxCells(lim Limits) int { return cellsPerRow * max(lim.MaxRows, 1000) }

func tooInflated(lim Limits) error {
	return fileErr(ErrInflatedTooLarge, "XLSX 文件解压后超过 %d MB，无法读取",
		"the XLSX file inflates to more than %d MB", lim.MaxUnzipped>>20)
}

func isXMLPart(name string) bool {
	return strings.HasSuffix(name, ".xml") || strings.HasSuffix(name, ".rels") || strings.HasSuffix(name, ".vml")
}

// inMemoryLimit picks excelize's UnzipXMLSizeLimit: the largest size such that the worksheets
// and shared strings at or below it fit in xmlInMemory together; larger ones go to disk.
// Shared strings with many elements always go to disk (see stringsInMemoryMarkup).
func inMemoryLimit(spillable []*zipPart, stringsMarkup int) int64 {
	sort.Slice(spillable, func(i, j int) bool { return spillable[i].size < spillable[j].size })
	var limit, sum int64 = 1, 0
	for i := 0; i < len(spillable); {
		j, group := i, int64(0)
		for j < len(spillable) && spillable[j].size == spillable[i].size {
			group += spillable[j].size
			j++
		}
		if sum+group > xmlInMemory {
			break
		}
		sum += group
		limit = max(limit, spillable[i].size)
		i = j
	}
	if stringsMarkup > stringsInMemoryMarkup {
		for _, p := range spillable {
			if p.name == "xl/sharedstrings.xml" && p.size <= limit {
				limit = max(1, p.size-1)
			}
		}
	}
	return limit
}

// countMarkup inflates a part and counts its '<' (an upper bound on its elements), refusing
// more than limit.
func countMarkup(f *zip.File, limit int) (int, error) {
	rc, err := f.Open()
	if err != nil {
		return 0, brokenPart()
	}
	defer rc.Close()
	buf := make([]byte, 32<<10)
	n := 0
	for {
		k, err := rc.Read(buf)
		n += bytes.Count(buf[:k], []byte{'<'})
		if n > limit {
			return n, fileErr(ErrInflatedTooLarge, "XLSX 文件中的 %s 过于庞大（超过 %d 个元素）",
				"the part %s of the XLSX is too large (more than %d elements)", path.Base(f.Name), limit)
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, brokenPart()
		}
	}
}

func brokenPart() error {
	return fileErr(ErrBrokenFile, "XLSX 文件已损坏（压缩数据校验失败），请在 Excel 中重新保存",
		"the XLSX file is damaged (a part fails its checksum); save it again in Excel")
}

// readSmallXML decodes a small part (workbook, relationships) already bounded by the markup
// count.
func readSmallXML(p *zipPart, v any) error {
	rc, err := p.f.Open()
	if err != nil {
		return brokenPart()
	}
	defer rc.Close()
	if err := xml.NewDecoder(io.LimitReader(rc, maxOtherBytes)).Decode(v); err != nil {
		return fileErr(ErrBrokenFile, "XLSX 文件的工作簿结构无法读取，请在 Excel 中重新保存",
			"the workbook structure of the XLSX cannot be read; save it again in Excel")
	}
	return nil
}

type xmlRels struct {
	Rels []struct {
		ID     string `xml:"Id,attr"`
		Type   string `xml:"Type,attr"`
		Target string `xml:"Target,attr"`
	} `xml:"Relationship"`
}

type xmlWorkbook struct {
	Pr *struct {
		Date1904 string `xml:"date1904,attr"`
	} `xml:"workbookPr"`
	Sheets []struct {
		Name  string `xml:"name,attr"`
		State string `xml:"state,attr"`
		RID   string `xml:"id,attr"` // r:id, in the transitional or the strict namespace
	} `xml:"sheets>sheet"`
}

// visibleSheet is a visible worksheet of a workbook: its name and its part's path.
type visibleSheet struct{ name, path string }

// readWorkbook reads a workbook's parts: the workbook (for its date system) and its visible
// worksheets in workbook order (hidden ones and chart sheets left out, and any whose part is
// missing). ok is false when the zip holds no workbook part.
func readWorkbook(parts map[string]*zipPart) (wb xmlWorkbook, sheets []visibleSheet, ok bool, err error) {
	wbPath := "xl/workbook.xml"
	if p := parts["_rels/.rels"]; p != nil {
		var rels xmlRels
		if err := readSmallXML(p, &rels); err != nil {
			return wb, nil, true, err
		}
		for _, r := range rels.Rels {
			if strings.HasSuffix(r.Type, "/officeDocument") {
				wbPath = strings.TrimPrefix(r.Target, "/")
			}
		}
	}
	wbPart := parts[strings.ToLower(wbPath)]
	if wbPart == nil {
		return wb, nil, false, nil
	}
	if err := readSmallXML(wbPart, &wb); err != nil {
		return wb, nil, true, err
	}
	dir, file := path.Split(wbPath)
	targets := map[string]string{}
	if p := parts[strings.ToLower(dir+"_rels/"+file+".rels")]; p != nil {
		var rels xmlRels
		if err := readSmallXML(p, &rels); err != nil {
			return wb, nil, true, err
		}
		for _, r := range rels.Rels {
			if strings.HasSuffix(r.Type, "/worksheet") {
				t := r.Target
				if strings.HasPrefix(t, "/") {
					t = t[1:]
				} else {
					t = path.Join(dir, t)
				}
				targets[r.ID] = t
			}
		}
	}
	for _, s := range wb.Sheets {
		t, found := targets[s.RID]
		if !found || (s.State != "" && s.State != "visible") || parts[strings.ToLower(t)] == nil {
			continue
		}
		sheets = append(sheets, visibleSheet{name: s.Name, path: t})
	}
	return wb, sheets, true, nil
}

// findSheet finds the first visible worksheet (chart sheets are skipped) and its part.
func findSheet(parts map[string]*zipPart) (*xlsxInfo, error) {
	wb, sheets, ok, err := readWorkbook(parts)
	switch {
	case err != nil:
		return nil, err
	case !ok:
		return nil, fileErr(ErrNotSpreadsheet, "该 zip 文件不是 Excel 工作簿（.xlsx），请上传 XLSX 或 CSV 文件",
			"the zip file is not an Excel workbook (.xlsx); upload an XLSX or CSV file")
	case len(sheets) == 0:
		return nil, fileErr(ErrNotSpreadsheet, "XLSX 文件中没有可见的工作表", "the XLSX file has no visible worksheet")
	}
	info := &xlsxInfo{sheet: sheets[0].name, sheetPath: sheets[0].path}
	if wb.Pr != nil {
		info.date1904 = wb.Pr.Date1904 == "1" || wb.Pr.Date1904 == "true"
	}
	return info, nil
}

// mergeRange is a merged range, 1-based and inclusive; val is the top-left cell's value
// once its row has been read.
type mergeRange struct {
	r1, c1, r2, c2 int
}

// scanSheet reads a worksheet's XML as bytes, before excelize streams it: it finds the
// <mergeCell ref="…"/> elements (they follow the sheet data; excelize's GetMergeCells would
// decode the whole sheet into memory, which costs as much as reading it) and counts the
// cell elements, refusing more than maxCells (excelize spends about two microseconds on
// each, empty or not). Inflating the sheet here also checks its checksum. Merged ranges are
// clipped to maxCols columns.
func scanSheet(p *zipPart, maxCols, maxCells int) ([]mergeRange, error) {
	if p == nil {
		return nil, nil
	}
	rc, err := p.f.Open()
	if err != nil {
		return nil, brokenPart()
	}
	defer rc.Close()
	var merges []mergeRange
	cells := 0
	buf := make([]byte, 64<<10)
	carry := 0 // bytes kept from the previous chunk, so a tag split between chunks is seen whole
	for {
		k, rerr := io.ReadFull(rc, buf[carry:])
		n := carry + k
		chunk := buf[:n]
		end := n // tags starting at or after end wait for the next chunk
		if rerr == nil {
			end = max(0, n-512)
		}
		i := 0
		for {
			j := bytes.IndexByte(chunk[i:end], '<')
			if j < 0 {
				i = end
				break
			}
			at := i + j + 1
			i = at
			name, rest := elementName(chunk[at:n])
			switch string(name) {
			case "c":
				if cells++; cells > maxCells {
					return nil, fileErr(ErrInflatedTooLarge,
						"工作表的单元格过多（超过 %d 个，设置了格式的空单元格也计算在内），请删除多余的行和列后重新保存",
						"the sheet has more than %d cells (formatted empty cells count too); delete the unused rows and columns and save again",
						maxCells)
				}
			case "mergeCell":
				close := bytes.IndexByte(rest, '>')
				if close < 0 {
					continue
				}
				if m, ok := parseMergeRef(rest[:close], maxCols); ok {
					if len(merges) >= maxMerges {
						return nil, fileErr(ErrInflatedTooLarge, "工作表中的合并单元格过多（超过 %d 处）",
							"the sheet has more than %d merged ranges", maxMerges)
					}
					merges = append(merges, m)
				}
			}
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			return nil, brokenPart()
		}
		carry = copy(buf, chunk[i:])
	}
	sort.Slice(merges, func(i, j int) bool { return merges[i].r1 < merges[j].r1 })
	return merges, nil
}

// elementName returns the local name of the element starting at b (just after '<'), without
// a namespace prefix, and the bytes after it; closing tags, comments and declarations have
// no name.
func elementName(b []byte) (name, rest []byte) {
	k := 0
	for k < len(b) && k < 64 {
		c := b[k]
		if c == ' ' || c == '>' || c == '/' || c == '\t' || c == '\n' || c == '\r' {
			break
		}
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == ':') {
			return nil, nil
		}
		k++
	}
	name = b[:k]
	if i := bytes.LastIndexByte(name, ':'); i >= 0 {
		name = name[i+1:]
	}
	return name, b[k:]
}

// parseMergeRef reads the ref attribute in a mergeCell element's attributes: ref="D3:F3".
func parseMergeRef(attrs []byte, maxCols int) (mergeRange, bool) {
	i := bytes.Index(attrs, []byte("ref="))
	if i < 0 || i+5 > len(attrs) {
		return mergeRange{}, false
	}
	q := attrs[i+4]
	rest := attrs[i+5:]
	j := bytes.IndexByte(rest, q)
	if j < 0 || (q != '"' && q != '\'') {
		return mergeRange{}, false
	}
	a, b, ok := strings.Cut(string(rest[:j]), ":")
	if !ok {
		b = a
	}
	c1, r1, err1 := excelize.CellNameToCoordinates(a)
	c2, r2, err2 := excelize.CellNameToCoordinates(b)
	if err1 != nil || err2 != nil {
		return mergeRange{}, false
	}
	if c1 > c2 {
		c1, c2 = c2, c1
	}
	if r1 > r2 {
		r1, r2 = r2, r1
	}
	if c1 > maxCols {
		return mergeRange{}, false
	}
	return mergeRange{r1: r1, c1: c1, r2: r2, c2: min(c2, maxCols)}, true
}

// xlsxSource streams the rows of one worksheet with excelize's Rows iterator, values raw.
type xlsxSource struct {
	rows *excelize.Rows
	line int
}

func (s *xlsxSource) next() ([]string, int, bool, error) {
	if !s.rows.Next() {
		if err := s.rows.Error(); err != nil {
			if errors.Is(err, excelize.ErrMaxRows) {
				return nil, 0, false, fileErr(ErrTooManyRows, "工作表的行号超出 Excel 的范围",
					"the sheet has row numbers beyond Excel's limit")
			}
			return nil, 0, false, brokenSheet()
		}
		return nil, 0, false, nil
	}
	s.line++
	cells, err := s.rows.Columns()
	if err != nil {
		return nil, 0, false, brokenSheet()
	}
	return cells, s.line, true, nil
}

func brokenSheet() error {
	return fileErr(ErrBrokenFile, "工作表内容无法读取，请在 Excel 中重新保存", "the sheet cannot be read; save it again in Excel")
}

// columnLetter is "A" for 1.
func columnLetter(c int) string {
	s, err := excelize.ColumnNumberToName(c)
	if err != nil {
		return strconv.Itoa(c)
	}
	return s
}
