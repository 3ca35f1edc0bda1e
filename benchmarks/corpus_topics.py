"""The templates of the seeded news generator (benchmarks/corpus.py): the names and places it
draws from, the slot values of one article (`Fill`), the eight topics (a headline, lead sentences
that carry the facts questions ask about, body sentences) and the generic sentences that pad an
article to news length."""

from __future__ import annotations

import random
from dataclasses import dataclass

PREFIXES = ["North", "East", "West", "South", "Upper", "Lower", "New", "Old", "Port", "Lake",
            "Fort", "Glen", "Mount", "Saint", "Little", "Great"]
ROOTS = ["Alder", "Brook", "Carrow", "Dunmore", "Elmstead", "Fairhaven", "Greyford", "Hollins",
         "Ivybridge", "Juniper", "Kestrel", "Larkfield", "Marston", "Northam", "Oakridge",
         "Pendle", "Quarry", "Ravenhill", "Stonebury", "Thornton", "Underwood", "Valemont",
         "Westbrook", "Yarrow", "Ashcombe", "Birchley", "Coldwater", "Dovecote", "Eastmoor",
         "Fernhill", "Gallow", "Harrowgate", "Inverleigh", "Kingsmere", "Lowther", "Millbrook"]
FIRST = ["Elena", "Marcus", "Rosa", "Tomas", "Aisha", "Daniel", "Priya", "Jonah", "Ingrid",
         "Samuel", "Mei", "Oliver", "Nadia", "Felix", "Grace", "Hugo", "Leila", "Victor",
         "Sofia", "Arjun", "Clara", "Mateo", "Hannah", "Kwame", "Lucia", "Pavel", "Zara",
         "Rafael", "Ines", "George", "Yusuf", "Margit", "Theo", "Amara", "Bruno", "Keiko"]
LAST = ["Vasquez", "Lindqvist", "Kellerman", "Okafor", "Brennan", "Holloway", "Petrov",
        "Nakamura", "Adeyemi", "Castellano", "Fischer", "Moreau", "Sandoval", "Whitfield",
        "Rahman", "Kowalski", "Delacroix", "Mbeki", "Haugen", "Farrell", "Ishikawa", "Novak",
        "Quintero", "Ashworth", "Osei", "Lindgren", "Carvalho", "Dunleavy", "Eriksen", "Tanaka"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December"]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
DESKS = ["City Desk", "Business Desk", "Metro Staff", "Sports Desk", "Regional Affairs",
         "Science and Health", "Courts Reporter", "Education Correspondent"]
COMPANIES = ["Holdings", "Rail", "Foods", "Energy", "Logistics", "Textiles", "Software",
             "Brewing", "Shipping", "Materials"]
SPORTS_CLUBS = ["Rovers", "Athletic", "United", "Wanderers", "Harriers", "Mariners", "Rangers"]
STREETS = ["Canal Street", "Harbour Road", "Station Lane", "Mill Street", "Church Row",
           "Market Square", "Bridge Street", "Queen's Avenue", "Ferry Lane", "High Street"]


@dataclass
class Fact:
    """A question that an article answers, with the answer as it appears in the text."""

    question: str
    answer: str



class Fill:
    """Random slot values for one article, kept consistent across its sentences."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.town = f"{rng.choice(PREFIXES)} {rng.choice(ROOTS)}" if rng.random() < 0.6 \
            else rng.choice(ROOTS)
        self.other_town = rng.choice(ROOTS)
        self.people = [f"{rng.choice(FIRST)} {rng.choice(LAST)}" for _ in range(4)]
        self.company = f"{rng.choice(ROOTS)} {rng.choice(COMPANIES)}"
        self.club = f"{self.town} {rng.choice(SPORTS_CLUBS)}"
        self.rival = f"{rng.choice(ROOTS)} {rng.choice(SPORTS_CLUBS)}"
        self.street = rng.choice(STREETS)
        self.year = rng.randint(2019, 2025)
        self.month = rng.choice(MONTHS)
        self.day = rng.randint(1, 28)
        self.weekday = rng.choice(WEEKDAYS)

    def surname(self, i: int) -> str:
        return self.people[i].split()[-1]

    def n(self, low: int, high: int) -> str:
        return f"{self.rng.randint(low, high):,}"

    def money(self) -> str:
        if self.rng.random() < 0.5:
            return f"${self.rng.randint(2, 950)} million"
        return f"${self.rng.randint(11, 99) / 10:.1f} billion"

    def pct(self) -> str:
        return f"{self.rng.randint(2, 64)} percent"

    def date(self) -> str:
        return f"{self.month} {self.day}, {self.year}"


# Each topic: a headline, lead sentences that carry the facts questions ask about, and body
# sentences. Templates are formatted with the article's Fill (f) and the fact values (v).
def _transit(f: Fill) -> tuple[str, list[str], list[str], list[Fact]]:
    v = {"riders": f.n(2000, 60000), "stops": str(f.rng.randint(8, 40)), "cost": f.money(),
         "km": f"{f.rng.randint(30, 250) / 10:.1f}"}
    title = f"{f.town} Opens New Tram Line After {f.rng.choice(['Three', 'Four', 'Five'])} Years of Works"
    lead = [
        f"Trams returned to the streets of {f.town} on {f.weekday}, {f.date()}, as the city opened "
        f"its new line between {f.street} and the {f.other_town} park and ride.",
        f"The line is {v['km']} kilometres long, has {v['stops']} stops and cost {v['cost']}.",
        f"Officials expect about {v['riders']} riders a day once the timetable settles.",
    ]
    body = [
        f"Mayor {f.people[0]} cut a ribbon on the platform shortly after 10 a.m.",
        f"\"This is the biggest thing {f.town} has built in a generation,\" {f.surname(0)} told the crowd.",
        f"Construction began in {f.rng.choice(MONTHS)} {f.year - 4} and finished "
        f"{f.rng.randint(2, 14)} months behind schedule.",
        f"Gas and water pipes under {f.street} had to be moved before the rails could be laid.",
        f"{f.people[1]}, director of the {f.town} Transit Authority, said the stations were built "
        "long enough for double-length trams.",
        f"During the peaks a tram will run every {f.rng.randint(4, 9)} minutes.",
        "Rides are free for the opening weekend, the authority said.",
        f"{f.people[2]}, who runs a cafe on {f.street}, said the roadworks had cut her takings "
        f"by {f.pct()}.",
        f"The council will vote in {f.rng.choice(MONTHS)} on extending the line to {f.other_town}.",
        f"Bus routes {f.rng.randint(2, 40)} and {f.rng.randint(41, 90)} will be shortened to meet the trams.",
        f"The trams were built by {f.company} at its factory in {f.other_town}.",
        "Critics said the money would have been better spent on buses and cycle lanes.",
    ]
    facts = [Fact(f"How many stops does the {f.town} tram line have?", v["stops"]),
             Fact(f"How much did the {f.town} tram line cost?", v["cost"]),
             Fact(f"How long is the new tram line in {f.town}?", f"{v['km']} kilometres")]
    return title, lead, body, facts


def _earnings(f: Fill) -> tuple[str, list[str], list[str], list[Fact]]:
    v = {"revenue": f.money(), "growth": f.pct(), "jobs": f.n(40, 900), "q": f.rng.choice(
        ["first", "second", "third", "fourth"])}
    title = f"{f.company} Revenue Rises {v['growth'].replace(' percent', '%')} in {v['q'].title()} Quarter"
    lead = [
        f"{f.company} reported revenue of {v['revenue']} for the {v['q']} quarter on "
        f"{f.weekday}, up {v['growth']} from a year earlier.",
        f"The company said it would add {v['jobs']} jobs at its {f.town} site over the next year.",
    ]
    body = [
        f"Chief executive {f.people[0]} said demand had held up better than expected.",
        f"\"We have had a strong quarter, and the order book is the fullest it has been,\" "
        f"{f.surname(0)} said on a call with analysts.",
        f"Operating margin widened to {f.pct()}, helped by lower energy costs.",
        f"Shares in {f.company} rose {f.rng.randint(1, 15)} percent in early trading.",
        f"Finance director {f.people[1]} said the company would buy back {f.money()} of stock.",
        f"Analysts at {f.rng.choice(ROOTS)} Securities had expected revenue of {f.money()}.",
        "The company cut its forecast for the full year because of weaker exports.",
        f"Sales in {f.other_town} fell for the {f.rng.choice(['second', 'third', 'fourth'])} "
        "quarter in a row.",
        f"Union representative {f.people[2]} welcomed the new jobs but asked for better pay.",
        f"The {f.town} plant employs about {f.n(300, 5000)} people.",
        f"{f.company} was founded in {f.rng.randint(1890, 1995)} as a family business.",
    ]
    facts = [Fact(f"What revenue did {f.company} report for the {v['q']} quarter?", v["revenue"]),
             Fact(f"How many jobs will {f.company} add in {f.town}?", v["jobs"])]
    return title, lead, body, facts


def _weather(f: Fill) -> tuple[str, list[str], list[str], list[Fact]]:
    v = {"temp": f"{f.rng.randint(34, 46)} degrees", "homes": f.n(800, 90000),
         "hours": f"{f.rng.randint(2, 30)} hours"}
    title = f"Heatwave Pushes {f.town} Power Grid to the Brink"
    lead = [
        f"Temperatures in {f.town} reached {v['temp']} on {f.weekday}, the highest reading since "
        f"records began, and the regional grid operator ordered rolling cuts.",
        f"About {v['homes']} homes lost power for up to {v['hours']}.",
    ]
    body = [
        f"{f.people[0]}, who manages the grid operator's control room, said demand peaked at "
        f"{f.n(900, 9000)} megawatts.",
        f"\"We had no choice but to shed load to protect the network,\" {f.surname(0)} said.",
        f"Cooling centres opened in libraries and community halls across {f.town}.",
        "Hospitals switched to backup generators, and none reported problems.",
        f"The weather service said the heat would ease by {f.rng.choice(WEEKDAYS)}.",
        f"Water use rose by {f.pct()} and the utility asked residents to avoid watering gardens.",
        f"Council leader {f.people[1]} called for an inquiry into the outages.",
        f"Rail services to {f.other_town} were slowed because of fears that tracks could buckle.",
        f"Paramedics treated {f.n(20, 400)} people for heat exhaustion.",
        "Farmers said the heat had damaged crops already weakened by a dry spring.",
        f"The last comparable heatwave in the region was in {f.rng.randint(1976, 2018)}.",
    ]
    facts = [Fact(f"What temperature did {f.town} reach during the heatwave?", v["temp"]),
             Fact(f"How many homes lost power in {f.town}?", v["homes"])]
    return title, lead, body, facts


def _fire(f: Fill) -> tuple[str, list[str], list[str], list[Fact]]:
    v = {"evac": f.n(60, 4000), "crews": str(f.rng.randint(4, 60)), "hectares": f.n(3, 800)}
    title = f"Fire at {f.town} Sawmill Forces Evacuations"
    lead = [
        f"Fire crews fought a blaze at a sawmill in {f.town} through the night of {f.weekday}, "
        f"and {v['evac']} residents were told to leave their homes.",
        f"The fire service sent {v['crews']} crews, and the flames spread across {v['hectares']} "
        "hectares of nearby woodland.",
    ]
    body = [
        f"Fire chief {f.people[0]} said the cause was not yet known.",
        f"\"Our crews worked in very difficult conditions, with strong winds all night,\" "
        f"{f.surname(0)} said.",
        f"Residents were taken to a shelter at the {f.town} leisure centre.",
        f"No one was seriously hurt, although {f.rng.randint(1, 9)} firefighters were treated for "
        "smoke inhalation.",
        f"The sawmill, owned by {f.company}, employs {f.n(20, 300)} people.",
        f"Police closed the road to {f.other_town} for most of {f.rng.choice(WEEKDAYS)}.",
        f"{f.people[1]}, who lives on {f.street}, said she saw flames above the trees at midnight.",
        f"Investigators are expected to report within {f.rng.randint(2, 8)} weeks.",
        f"The mill had been fined in {f.year - 2} for storing sawdust too close to its boilers.",
        f"Air quality warnings stayed in place for {f.rng.randint(1, 5)} days.",
    ]
    facts = [Fact(f"How many residents were evacuated in {f.town}?", v["evac"]),
             Fact(f"How many crews fought the {f.town} sawmill fire?", v["crews"])]
    return title, lead, body, facts


def _sport(f: Fill) -> tuple[str, list[str], list[str], list[Fact]]:
    a, b = f.rng.randint(1, 5), f.rng.randint(0, 4)
    v = {"score": f"{max(a, b)}-{min(a, b)}", "crowd": f.n(3000, 70000),
         "scorer": f.people[0]}
    title = f"{f.club} Win the Coastal Cup Final"
    lead = [
        f"{f.club} beat {f.rival} {v['score']} in the Coastal Cup final on {f.weekday} in front of "
        f"a crowd of {v['crowd']}.",
        f"{v['scorer']} scored the winning goal in the {f.rng.randint(50, 90)}th minute.",
    ]
    body = [
        f"Coach {f.people[1]} said the win was the best moment of his career.",
        f"\"The players never stopped believing,\" {f.surname(1)} said after the match.",
        f"It is the club's first trophy since {f.rng.randint(1950, 2015)}.",
        f"{f.rival} had the better of the first half and hit the post twice.",
        f"Goalkeeper {f.people[2]} made {f.rng.randint(3, 11)} saves.",
        f"Thousands of fans gathered in {f.town}'s {f.street} to welcome the team home.",
        "The club will play in the regional champions league next season.",
        f"Tickets for the final sold out in {f.rng.randint(2, 48)} hours.",
        f"{f.people[3]}, the club's captain, lifted the cup with his daughter beside him.",
        "Police said the celebrations passed off without serious incident.",
    ]
    facts = [Fact(f"Who scored the winning goal for {f.club}?", v["scorer"]),
             Fact("How many people watched the Coastal Cup final?", v["crowd"])]
    return title, lead, body, facts


def _council(f: Fill) -> tuple[str, list[str], list[str], list[Fact]]:
    v = {"homes": f.n(40, 3000), "budget": f.money(), "votes": f"{f.rng.randint(10, 30)} votes to "
         f"{f.rng.randint(1, 9)}"}
    title = f"{f.town} Council Approves {v['homes']} New Homes"
    lead = [
        f"{f.town} city council voted on {f.weekday} to approve plans for {v['homes']} new homes "
        f"on the former gasworks site, by {v['votes']}.",
        f"The scheme has a budget of {v['budget']} and will include a school and a health centre.",
    ]
    body = [
        f"Council leader {f.people[0]} said the homes were badly needed.",
        f"\"Young families are being priced out of {f.town}, and this is how we keep them here,\" "
        f"{f.surname(0)} said.",
        f"About {f.pct()} of the homes will be offered at below-market rents.",
        f"Residents on {f.street} had objected to the height of the tallest blocks.",
        f"The developer, {f.company}, expects to start building in {f.rng.choice(MONTHS)}.",
        f"Opposition councillor {f.people[1]} said the roads could not cope with more traffic.",
        f"The site has stood empty since the gasworks closed in {f.rng.randint(1970, 2010)}.",
        f"Soil on the site must be cleaned before work begins, at a cost of {f.money()}.",
        f"A new bus route will link the estate to {f.other_town}.",
        f"The first residents could move in by {f.year + 3}.",
    ]
    facts = [Fact(f"How many new homes did {f.town} council approve?", v["homes"]),
             Fact(f"What is the budget of the {f.town} gasworks housing scheme?", v["budget"])]
    return title, lead, body, facts


def _school(f: Fill) -> tuple[str, list[str], list[str], list[Fact]]:
    v = {"pupils": f.n(200, 2400), "head": f.people[0], "rate": f.pct()}
    title = f"{f.town} Academy Named School of the Year"
    lead = [
        f"{f.town} Academy, which teaches {v['pupils']} pupils, was named school of the year at "
        f"the regional education awards on {f.weekday}.",
        f"Head teacher {v['head']} has led the school since {f.year - 6}.",
    ]
    body = [
        f"Exam pass rates at the school have risen by {v['rate']} in five years.",
        f"\"This award belongs to our pupils and our staff,\" {f.surname(0)} said.",
        f"The school was placed in special measures in {f.year - 8}.",
        "Inspectors praised its reading programme and its after-school clubs.",
        f"Parent {f.people[1]} said her two sons had been transformed by the school.",
        f"A new science block, paid for with {f.money()} from the state, opens next year.",
        f"The school runs a breakfast club that feeds {f.n(50, 600)} children a day.",
        f"Teachers' union representative {f.people[2]} warned that staff were overworked.",
        "Applications for places have doubled, and the school is full.",
        f"The awards were presented at a ceremony in {f.other_town}.",
    ]
    facts = [Fact(f"How many pupils does {f.town} Academy teach?", v["pupils"]),
             Fact(f"Who is the head teacher of {f.town} Academy?", v["head"])]
    return title, lead, body, facts


def _health(f: Fill) -> tuple[str, list[str], list[str], list[Fact]]:
    v = {"wait": f"{f.rng.randint(3, 40)} weeks", "beds": str(f.rng.randint(20, 400)),
         "cost": f.money()}
    title = f"{f.town} Hospital to Add {v['beds']} Beds as Waiting Lists Grow"
    lead = [
        f"{f.town} General Hospital will add {v['beds']} beds in a new wing costing {v['cost']}, "
        f"health officials said on {f.weekday}.",
        f"Patients in the region now wait an average of {v['wait']} for planned surgery.",
    ]
    body = [
        f"Hospital chief executive {f.people[0]} said the wing would open in {f.year + 2}.",
        f"\"We simply do not have enough beds for the people who need them,\" {f.surname(0)} said.",
        f"Emergency admissions rose by {f.pct()} last winter.",
        f"Nurses' representative {f.people[1]} said staffing was the real problem.",
        f"The hospital has {f.n(80, 900)} vacancies for nurses and doctors.",
        f"Patients from {f.other_town} are often sent to hospitals further away.",
        f"The new wing will include {f.rng.randint(2, 8)} operating theatres.",
        f"Work on the site near {f.street} starts in {f.rng.choice(MONTHS)}.",
        f"Patient group leader {f.people[2]} welcomed the plan but asked for more community care.",
        f"The hospital was built in {f.rng.randint(1950, 1990)} and is the region's largest employer.",
    ]
    facts = [Fact(f"How many beds will {f.town} General Hospital add?", v["beds"]),
             Fact(f"How long do patients wait for planned surgery near {f.town}?", v["wait"])]
    return title, lead, body, facts


TOPICS = [_transit, _earnings, _weather, _fire, _sport, _council, _school, _health]

# Sentences that fit any story, to pad articles to news length.
GENERIC = [
    "The announcement drew a mixed response on social media, where some residents welcomed the "
    "news and others questioned how it had been handled.",
    "{p} said further details would be published in the coming weeks, once the council had "
    "reviewed the figures.",
    "A spokesperson for {t} city council declined to comment further, citing the need to wait "
    "for the outcome of the review.",
    "Local businesses said they were watching the situation closely and would adjust their plans "
    "if conditions changed.",
    "{p}, a resident of {t} for {n} years, said the town had changed a great deal since she "
    "first moved there.",
    "The matter will be discussed at the next public meeting in {m}, which is open to residents.",
    "Figures published by the regional statistics office show the population of {t} has grown "
    "by {pct} in a decade.",
    "Opposition politicians called the decision rushed and said the public had not been given "
    "enough time to respond.",
    "\"We will keep listening to residents, and we will change course if we need to,\" {p} said.",
    "A public consultation held last year drew {n} written responses, most of them in favour.",
    "Campaigners from {o} said they would continue to press for changes and were considering a "
    "legal challenge.",
    "The story was first reported by the {t} Ledger, which obtained a copy of the internal report.",
    "Regional officials said the decision reflected pressures felt by towns across the county, "
    "not only in {t}.",
    "The cost of living has risen sharply in {t}, where rents climbed by {pct} over the past two "
    "years.",
    "{p}, who chairs the local residents' association, said people wanted clear answers rather "
    "than more promises.",
    "Several residents said they had only learned about the plans from posters on lampposts.",
    "The regional government said it would publish a full assessment before the end of {m}.",
    "A petition calling for an independent review has gathered {n} signatures online.",
    "Economists said the episode showed how exposed smaller towns are to decisions made "
    "elsewhere.",
    "The town's member of parliament, {p}, said she had written to the minister about the issue.",
    "Officials from {o} are expected to visit {t} next month to see the situation for themselves.",
    "Local radio phone-ins were dominated by the subject for most of the week.",
]


def generic_sentence(f: Fill) -> str:
    template = f.rng.choice(GENERIC)
    return template.format(p=f.rng.choice(f.people), t=f.town, n=f.n(3, 60), m=f.rng.choice(MONTHS),
                           pct=f.pct(), o=f.other_town)
