"""Dates as people read them in each language (FORMAT_MODULE_PATH): short month names,
"5 Oct 2026" in English and "5 okt 2026" in Dutch, where a month is written in lower case.
Pages and emails name these formats ("DATE_FORMAT", "DATETIME_FORMAT", "MONTH_DAY_FORMAT",
"YEAR_MONTH_FORMAT") instead of spelling out a format of their own. A month named in full
("F Y": "oktober 2026"), as a KPI period's heading is, needs no format of its own: Django
writes full month names as each language does."""
