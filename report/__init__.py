"""The words of the solution, rendered in one place from the scripts' results JSON.

build.py assembles figures/report.md; render.py renders one problem (the scripts print their
answers with it); p1.py ... p5.py hold each problem's sub-question renderers; key.py the graders'
answer key; readme.py README's generated regions; fields.py the strict view of a results file;
md.py the shared Markdown pieces.
"""
