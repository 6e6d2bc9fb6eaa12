package store

import (
	"time"
)

// ReportStatus is where a monthly report (月报) stands.
type ReportStatus string

// The report statuses. A project without a report for a month is "missing" (未报).
const (
	ReportMissing   ReportStatus = "missing"   // 未报 (never stored: the absence of a report)
	ReportSubmitted ReportStatus = "submitted" // 已报
	ReportReturned  ReportStatus = "returned"  // 退回
	ReportApproved  ReportStatus = "approved"  // 已审核
)

// Report is one project's monthly report. The month's investment is typed once: the
// cumulative figure is derived (OpeningYuan + MonthYuan), and submitting a report of the
// project's newest reported month sets the project's investmentCompletedYuan and progress
// to it (docs/metrics.md, "The month").
type Report struct {
	ProjectID string `json:"projectId"`
	Month     Month  `json:"month"`
	// MonthYuan is the investment completed in the month.
	MonthYuan int64 `json:"monthYuan"`
	// OpeningYuan is the year's completed investment before the month: the cumulative figure
	// of the project's previous report in the year, or, for its first, the project's figure
	// when that report was first made.
	OpeningYuan    int64        `json:"openingYuan"`
	CumulativeYuan int64        `json:"cumulativeYuan"` // OpeningYuan + MonthYuan
	Progress       int          `json:"progress"`       // 形象进度 at the month's end, 0–100
	ProgressText   string       `json:"progressText"`   // what moved
	ProblemsText   string       `json:"problemsText"`   // what is stuck
	Status         ReportStatus `json:"status"`
	ReportedBy     string       `json:"reportedBy"`
	ReportedAt     time.Time    `json:"reportedAt"`
	Late           bool         `json:"late"` // submitted after the deadline
	ReviewedBy     string       `json:"reviewedBy"`
	ReviewedAt     *time.Time   `json:"reviewedAt"`
	ReturnReason   string       `json:"returnReason"`
	Version        uint64       `json:"version"`
}

// ReportInput is what a unit types for a project's month.
type ReportInput struct {
	MonthYuan    int64  `json:"monthYuan"`
	Progress     int    `json:"progress"`
	ProgressText string `json:"progressText"`
	ProblemsText string `json:"problemsText"`
}

// Validate checks a report's figures and texts.
func (in *ReportInput) Validate() error {
	if in.MonthYuan < 0 || in.MonthYuan > MaxYuan {
		return invalid("monthYuan", "must be between 0 and %d", MaxYuan)
	}
	if in.Progress < 0 || in.Progress > 100 {
		return invalid("progress", "must be between 0 and 100")
	}
	if err := CheckLongText("progressText", in.ProgressText, 0, 2000); err != nil {
		return err
	}
	return CheckLongText("problemsText", in.ProblemsText, 0, 2000)
}

// ReportAction is what an edit does to a report.
type ReportAction string

// The report actions.
const (
	ReportSubmit  ReportAction = "submit"  // a unit stores and submits its figures (again)
	ReportApprove ReportAction = "approve" // the office approves a submitted report
	ReportReturn  ReportAction = "return"  // the office returns a report with a reason
)

// ReportEdit is an Edit's report part (Kind ChangeReport).
type ReportEdit struct {
	Month  Month
	Action ReportAction
	// IfMatch is the report's version the caller saw; 0 to create one that does not exist.
	IfMatch uint64
	Input   ReportInput // for submit
	Reason  string      // for return
}

// UnitReport is one responsible unit's report status for a month.
type UnitReport struct {
	Department string       `json:"department"`
	Projects   int          `json:"projects"` // construction projects of the month's year
	Submitted  int          `json:"submitted"`
	Returned   int          `json:"returned"`
	Approved   int          `json:"approved"`
	Missing    int          `json:"missing"`
	Status     ReportStatus `json:"status"` // missing if any is missing, returned if any returned, approved if all approved, else submitted
}

func unitStatus(u UnitReport) ReportStatus {
	switch {
	case u.Missing > 0:
		return ReportMissing
	case u.Returned > 0:
		return ReportReturned
	case u.Approved == u.Projects:
		return ReportApproved
	}
	return ReportSubmitted
}
