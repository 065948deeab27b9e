"""Exports of results and gradebook rows. Each exporter returns text; the CLI writes files.

- ``grades_csv(rows)``: the grader's own CSV of effective grades;
- ``moodle_csv(rows, item)``: Moodle gradebook import CSV;
- ``canvas_csv(rows, assignment_name, canvas_id)``: Canvas gradebook import CSV;
- ``gradescope_json(result, ...)``: a Gradescope autograder ``results.json``;
- ``junit_xml(results)``: JUnit XML, one testsuite per submission;
- ``github``: GitHub Actions workflow commands (job summary, annotations, step outputs).
"""

from grader.exports.gradescope import gradescope_json, gradescope_results
from grader.exports.junit import junit_xml
from grader.exports.lms import canvas_csv, grades_csv, moodle_csv

__all__ = [
    "canvas_csv",
    "gradescope_json",
    "gradescope_results",
    "grades_csv",
    "junit_xml",
    "moodle_csv",
]
