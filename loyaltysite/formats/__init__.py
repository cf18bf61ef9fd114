"""Dates as people read them in each language (FORMAT_MODULE_PATH): short month names,
"5 Oct 2026" in English and "5 okt 2026" in Dutch, where a month is written in lower case.
Pages and emails name these formats ("DATE_FORMAT", "DATETIME_FORMAT", "MONTH_DAY_FORMAT",
"YEAR_MONTH_FORMAT") instead of spelling out a format of their own."""
