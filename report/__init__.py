"""The words of the solution, rendered in one place from the scripts' results JSON.

build.py writes figures/solution.md, evidence.md, key.md and solution.pdf. solution.py lays out the
solution from answer.py's Answer records, which answers_cnn.py and answers_rnn.py fill; p1.py ...
p5.py render each sub-question's evidence (and the scripts print their answers with render.py);
keydoc.py and key.py the graders' key; pdf.py the PDF; readme.py README's generated regions;
fields.py the strict view of a results file; md.py the shared Markdown pieces; p1_cells.py
P1 (2)'s conv3 cells in words.
"""
