"""The runtime around Scrapy: settings, middlewares, pipelines, spool, scheduler."""
